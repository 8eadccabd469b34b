/**
 * Cost against size: one node grows to 1,000,000 resources across 5,000 patients, each patient one
 * importBundle over real HTTP of a Synthea history copied with fresh ids and dates and cut to
 * resources/patients entries. Import throughput per window of 100,000 resources (first against last),
 * and record(id) and first-timeline-page latency on the near-empty node (after 20 patients) against
 * the full one.
 *
 *   npm run bench:scale     (embedded Postgres, or DATABASE_URL when set)
 *   BENCH_SCALE_RESOURCES=1000000 BENCH_SCALE_PATIENTS=5000 BENCH_SCALE_WINDOW=100000 (resources)
 *   BENCH_SCALE_CONCURRENCY=4               importBundle calls in flight
 *   BENCH_SCALE_READS=2000 BENCH_SCALE_READ_CONCURRENCY=8   requests per latency measurement
 *   BENCH_SCALE_WINDOW_READS=500            requests per measurement at each window boundary (0: none)
 *   BENCH_SCALE_DRAIN_SECONDS=600           how long to watch anchoring catch up after the import
 *   BENCH_SYNTHEA_DIR=<folder of *.json.bz2>   (default test/fixtures/synthea)
 */
import '../src/polyfills.js';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { OmnichartClient, login, newIdentity, register } from '../examples/client.js';
import { startBenchNode } from './bench-node.js';
import { measure, printResults, type RunResult } from './stats.js';
import {
  freshCopy,
  loadHistories,
  withoutDanglingReferences,
  type History,
  type SyntheaBundle,
} from './synthea-corpus.js';

const RESOURCES = Number(process.env.BENCH_SCALE_RESOURCES ?? 1_000_000);
const PATIENTS = Number(process.env.BENCH_SCALE_PATIENTS ?? 5_000);
const WINDOW = Number(process.env.BENCH_SCALE_WINDOW ?? 100_000);
const CONCURRENCY = Number(process.env.BENCH_SCALE_CONCURRENCY ?? 4);
const READS = Number(process.env.BENCH_SCALE_READS ?? 2_000);
const READ_CONCURRENCY = Number(process.env.BENCH_SCALE_READ_CONCURRENCY ?? 8);
const WINDOW_READS = Number(process.env.BENCH_SCALE_WINDOW_READS ?? 500);
const DRAIN_SECONDS = Number(process.env.BENCH_SCALE_DRAIN_SECONDS ?? 600);
/** Patients in the node when the near-empty baseline is measured. */
const BASELINE_PATIENTS = 20;
/** Record ids kept per patient for record(id) reads (a random sample of its chart). */
const IDS_KEPT = 20;
const IMPORT = `mutation ($patient: String!, $bundle: JSON!) {
  importBundle(patient: $patient, bundle: $bundle) { created written entries { recordId } }
}`;
const READ = 'query ($id: ID!) { record(id: $id) { id resource } }';
const PAGE =
  'query ($p: String!) { phr(patient: $p) { timeline(first: 20) { edges { node { id resource } } } } }';

interface Chart {
  index: number;
  client: OmnichartClient;
  address: string;
  token: string;
  entries: number;
  body: string;
}

interface Imported {
  client: OmnichartClient;
  address: string;
  ids: string[];
}

interface WindowPlan {
  charts: number[];
  resources: number;
}

/** A history cut once to its Patient and the entries after it, so each copy of it is cheap. */
function cutHistory(history: History, entries: number): History {
  const bundle = JSON.parse(history.text) as SyntheaBundle;
  const patient = bundle.entry.find((e) => e.resource.resourceType === 'Patient')!;
  const rest = bundle.entry.filter((e) => e !== patient);
  const entry = withoutDanglingReferences([patient, ...rest.slice(0, entries - 1)]);
  return { ...history, text: JSON.stringify({ ...bundle, entry }), entries: entry.length };
}

const started = performance.now();
const histories = loadHistories().map((h) => cutHistory(h, Math.round(RESOURCES / PATIENTS)));
const entriesOf = (index: number) => histories[index % histories.length].entries;
const windows: WindowPlan[] = [{ charts: [], resources: 0 }];
for (let i = 0; i < PATIENTS; i += 1) {
  if (windows.at(-1)!.resources >= WINDOW) windows.push({ charts: [], resources: 0 });
  windows.at(-1)!.charts.push(i);
  windows.at(-1)!.resources += entriesOf(i);
}

const imported: Imported[] = [];
let resources = 0;
// At most half the first window, so a small run still times some of it.
const baselinePatients = Math.max(1, Math.min(BASELINE_PATIENTS, Math.floor(windows[0].charts.length / 2)));
const bench = await startBenchNode('scale');
const { node } = bench;
const timer = node.services.records.timer;
const pool = new pg.Pool({ connectionString: bench.databaseUrl, max: 1 });
try {
  console.log(
    `Omnichart scale benchmark: node ${process.version}, ${os.cpus().length} cores, ` +
      `${node.database.embedded ? 'embedded' : 'external'} Postgres, ${PATIENTS} patients of ` +
      `${histories.map((h) => h.entries).join('/')} entries (${histories.length} histories round-robin), ` +
      `${windows.length} windows of ${WINDOW} resources, ${CONCURRENCY} imports in flight; ` +
      `reads: ${READS} per measurement at ${READ_CONCURRENCY} in flight`,
  );
  console.log(
    'import time of a window: from its first importBundle to its last answer (bodies serialized, ' +
      `registration and login done before the clock; the first ${baselinePatients} patients untimed); ` +
      'reads measured with no import in flight and the anchor queue paused\n',
  );
  const windowRuns: { resources: number; rate: number }[] = [];
  const curve: { resources: number; rows: RunResult[] }[] = [];
  let baseline: RunResult[] = [];
  let baselineSizes = { database: 0, blockstore: 0 };
  let baselineResources = 0;
  for (const [w, plan] of windows.entries()) {
    const prepStart = performance.now();
    const charts = await prepare(plan.charts);
    const prepSeconds = (performance.now() - prepStart) / 1000;
    let timed = charts;
    if (w === 0) {
      // The near-empty node of the baseline; its imports also warm the node up (JIT, validation
      // workers), so they stay out of the first window's time.
      await importAll(charts.slice(0, baselinePatients));
      baseline = await readLatency(READS);
      baselineSizes = await sizes();
      baselineResources = resources;
      curve.push({ resources, rows: baseline });
      timed = charts.slice(baselinePatients);
    }
    timer.reset();
    timer.enabled = true;
    const run = await importAll(timed);
    timer.enabled = false;
    const stages = timer.snapshot();
    const backlog = await node.anchorQueue.pendingCount();
    const rss = process.memoryUsage().rss;
    const timedResources = timed.reduce((sum, chart) => sum + chart.entries, 0);
    windowRuns.push({ resources: timedResources, rate: timedResources / run.seconds });
    const rows = w < windows.length - 1 && WINDOW_READS > 0 ? await readLatency(WINDOW_READS) : [];
    if (rows.length > 0) curve.push({ resources, rows });
    console.log(
      `window ${w + 1}/${windows.length}: ${timedResources} resources (${timed.length} patients` +
        `${w === 0 ? `, after ${baselinePatients} untimed` : ''}) in ${run.seconds.toFixed(1)} s = ` +
        `${windowRuns[w].rate.toFixed(0)} resources/s, importBundle p50/p99 ${run.p50.toFixed(0)}/` +
        `${run.p99.toFixed(0)} ms; registration ${prepSeconds.toFixed(1)} s; total ${resources}; anchor ` +
        `backlog ${backlog}; RSS ${megabytes(rss)}; elapsed ${elapsed()}` +
        (rows.length > 0 ? `; p99 record ${rows[0].p99.toFixed(1)} / page ${rows[1].p99.toFixed(1)} ms` : ''),
    );
    console.log(
      `  mean ms per call of each stage (calls): ${Object.entries(stages)
        .map(([stage, { count, meanMs }]) => `${stage} ${meanMs.toFixed(1)} (${count})`)
        .join(', ')}`,
    );
  }

  const full = await readLatency(READS);
  curve.push({ resources, rows: full });
  const fullSizes = await sizes();

  printResults(
    'Read latency as the node grows (@ resources in the node; first rows near-empty, last rows full)',
    curve.flatMap(({ resources: at, rows }) =>
      rows.map((row) => ({ ...row, label: `${row.label} @ ${at}` })),
    ),
  );
  const [first, last] = [windowRuns[0], windowRuns.at(-1)!];
  const ratio = last.rate / first.rate;
  console.log(`\nresults: ${resources} resources, ${imported.length} patients, elapsed ${elapsed()}`);
  console.log(
    `  import, first window   ${first.rate.toFixed(0).padStart(8)} resources/s (${first.resources} resources)`,
  );
  console.log(
    `  import, last window    ${last.rate.toFixed(0).padStart(8)} resources/s (${last.resources} resources)`,
  );
  console.log(
    `  last / first           ${(ratio * 100).toFixed(1).padStart(8)} %   goal ≥ 80 %   ${verdict(ratio >= 0.8)}` +
      (windows.length === 1 ? ' (one window: nothing to compare)' : ''),
  );
  console.log('                          near-empty p50/p99      full p50/p99   p99 full/near-empty');
  for (const [i, what] of ['record(id)', 'first timeline page'].entries()) {
    const p99Ratio = full[i].p99 / baseline[i].p99;
    console.log(
      `  ${what.padEnd(22)} ${`${baseline[i].p50.toFixed(1)} / ${baseline[i].p99.toFixed(1)} ms`.padStart(18)} ` +
        `${`${full[i].p50.toFixed(1)} / ${full[i].p99.toFixed(1)} ms`.padStart(17)} ` +
        `${p99Ratio.toFixed(2).padStart(8)}×   goal ≤ 1.5×   ${verdict(p99Ratio <= 1.5)}`,
    );
  }
  for (const [what, key] of [
    ['Postgres database', 'database'],
    ['blockstore on disk', 'blockstore'],
  ] as const) {
    console.log(
      `  ${what.padEnd(22)} ${megabytes(baselineSizes[key]).padStart(9)} near-empty → ${megabytes(fullSizes[key])} ` +
        `full (${((fullSizes[key] - baselineSizes[key]) / (resources - baselineResources)).toFixed(0)} ` +
        'bytes per resource added)',
    );
  }
  await reportAnchorDrain();
} finally {
  await pool.end();
  await bench.close();
}

/**
 * How long anchoring takes to catch up once the imports stop (it falls behind during them), printed
 * after the goals so that a slow drain cannot cost the run its results.
 */
async function reportAnchorDrain(): Promise<void> {
  const left = await node.anchorQueue.pendingCount();
  const drainStart = performance.now();
  let pending = left;
  while (pending > 0 && performance.now() - drainStart < DRAIN_SECONDS * 1000) {
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    pending = await node.anchorQueue.pendingCount();
  }
  const seconds = (performance.now() - drainStart) / 1000;
  console.log(
    `  anchoring              ${left} outbox rows left after the import; ` +
      (pending === 0
        ? `drained in ${seconds.toFixed(1)} s (${(left / seconds).toFixed(0)} records/s)`
        : `${pending} still left after ${seconds.toFixed(0)} s (${((left - pending) / seconds).toFixed(0)} records/s)`),
  );
}

/**
 * Registers and logs in each patient and serializes its importBundle body, before the clock: the
 * client shares this process (and its two cores) with the node.
 */
async function prepare(indexes: number[]): Promise<Chart[]> {
  const charts: Chart[] = [];
  await measure('register', indexes.length, CONCURRENCY, async (i) => {
    const index = indexes[i];
    const client = new OmnichartClient(node.url);
    const identity = newIdentity();
    await register(client, identity, 'PATIENT', `Scale Patient ${index}`);
    const token = await login(client, identity);
    const history = histories[index % histories.length];
    // Each pass over the histories moves its copies further back, so charts do not share dates.
    const bundle = freshCopy(history, 4 * (Math.floor(index / histories.length) % 8));
    const address = identity.wallet.address;
    const body = JSON.stringify({ query: IMPORT, variables: { patient: address, bundle } });
    charts[i] = { index, client, address, token, entries: history.entries, body };
  });
  return charts;
}

async function importAll(charts: Chart[]): Promise<RunResult> {
  return measure('importBundle', charts.length, CONCURRENCY, async (i) => {
    imported.push(await importChart(charts[i]));
    resources += charts[i].entries;
  });
}

async function importChart(chart: Chart): Promise<Imported> {
  const response = await fetch(node.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${chart.token}` },
    body: chart.body,
  });
  const answer = (await response.json()) as {
    data?: { importBundle: { created: number; written: boolean; entries: { recordId: string | null }[] } };
  };
  const result = answer.data?.importBundle;
  if (!result?.written || result.created < chart.entries) {
    throw new Error(
      `patient ${chart.index}'s chart of ${chart.entries} entries not imported whole: ${JSON.stringify(answer).slice(0, 2000)}`,
    );
  }
  const ids = result.entries.flatMap((e) => (e.recordId ? [e.recordId] : []));
  return { client: chart.client, address: chart.address, ids: sample(ids, IDS_KEPT) };
}

/**
 * record(id) of a random record of a random imported patient, then the first timeline page of a
 * random imported patient, each with the patient's own token. The anchor queue is paused meanwhile,
 * so its backlog (which grows with the import) does not compete with the reads.
 */
async function readLatency(total: number): Promise<RunResult[]> {
  const patient = () => imported[Math.floor(Math.random() * imported.length)];
  const byId = async () => {
    const { client, ids } = patient();
    const { record } = await client.request<{ record: { resource: unknown } | null }>(READ, {
      id: ids[Math.floor(Math.random() * ids.length)],
    });
    if (!record?.resource) throw new Error('record(id) answered no resource');
  };
  const page = async () => {
    const { client, address } = patient();
    const { phr } = await client.request<{ phr: { timeline: { edges: unknown[] } } }>(PAGE, { p: address });
    if (phr.timeline.edges.length === 0) throw new Error('the first timeline page is empty');
  };
  await node.anchorQueue.stop();
  try {
    // As many reads again before the measurement: the near-empty node's first reads run cold (JIT,
    // caches), and a slow baseline would flatter the ratio.
    await measure('warm-up', total, READ_CONCURRENCY, byId);
    await measure('warm-up', total, READ_CONCURRENCY, page);
    return [
      await measure('record(id)', total, READ_CONCURRENCY, byId),
      await measure('first timeline page', total, READ_CONCURRENCY, page),
    ];
  } finally {
    node.anchorQueue.start();
  }
}

/** Postgres database and blockstore sizes in bytes. */
async function sizes(): Promise<{ database: number; blockstore: number }> {
  const { rows } = await pool.query<{ size: string }>('SELECT pg_database_size(current_database()) AS size');
  const du = execFileSync('du', ['-sk', node.config.ipfs.blockstoreDir]).toString();
  return { database: Number(rows[0].size), blockstore: Number(du.split('\t')[0]) * 1024 };
}

function sample<T>(items: T[], count: number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy.slice(0, count);
}

function megabytes(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

function elapsed(): string {
  const s = Math.round((performance.now() - started) / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

function verdict(met: boolean): string {
  return met ? 'PASS' : 'NOT MET';
}
