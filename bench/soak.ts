/**
 * Soak: mixed load at a fixed rate for N minutes against one node (bench-node.ts, in this process),
 * with two live recordAdded subscriptions. Prints per minute requests, errors by code, p50/p99 (and
 * p99 of all but grants), RSS with its anonymous and LevelDB-mapped parts; at the end totals, RSS
 * first vs last minute, memory trends after warm-up and subscription events received vs expected.
 * It fails nothing: read the figures.
 *
 *   npm run bench:soak                 (DATABASE_URL when set, else embedded Postgres)
 *   SOAK_MINUTES=10 SOAK_RPS=8 SOAK_WARMUP_MINUTES=1 SOAK_PATIENTS=4
 *   npm run bench:soak -- --only writes --minutes 8
 *
 * `--only <kind>` runs one kind of operation at the whole rate, to find which one holds memory:
 * reads (by id and timeline pages), writes, imports, grants (and revokes), predictions (by features
 * and from a chart), subscriptions (writes to the two subscribed charts only; the other kinds run
 * without subscriptions), idle (no requests: the node's background work alone).
 *
 * RSS is this whole process: the node plus the load generator, whose own state is small (a few
 * numbers per request for the percentiles, record ids in fixed-size rings).
 */
import '../src/polyfills.js';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { startBenchNode } from './bench-node.js';
import {
  ADD_RECORD,
  IMPORT_BUNDLE,
  OmnichartClient,
  grantAccess,
  login,
  newIdentity,
  register,
  revokeAccess,
  type GraphQLResponse,
  type Identity,
} from '../examples/client.js';
import { createRandom } from '../src/ml/random.js';

const KINDS = {
  reads: ['read', 'timeline'],
  writes: ['write'],
  imports: ['import'],
  grants: ['grant'],
  predictions: ['predict', 'predictForPatient'],
  subscriptions: ['write'],
  idle: [],
} as const satisfies Record<string, readonly Operation[]>;
type Kind = keyof typeof KINDS;

const USAGE = `usage: npm run bench:soak -- [--minutes N] [--only ${Object.keys(KINDS).join('|')}]
  env: SOAK_MINUTES (10), SOAK_RPS (8), SOAK_WARMUP_MINUTES (1), SOAK_PATIENTS (4), DATABASE_URL`;
const args = (() => {
  try {
    return parseArgs({
      options: {
        only: { type: 'string' },
        minutes: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
})();
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
const ONLY = args.only as Kind | undefined;
if (ONLY !== undefined && !(ONLY in KINDS)) {
  console.error(`--only takes one of ${Object.keys(KINDS).join(', ')}`);
  process.exit(2);
}
const MINUTES = Number(args.minutes ?? process.env.SOAK_MINUTES ?? 10);
// 2 shared cores run the node, Postgres, anvil and this generator: 8 requests/s keeps the node well
// below saturation (a write costs ~10-20 ms of CPU), so growth in latency or memory means a leak.
const RPS = Number(process.env.SOAK_RPS ?? 8);
const WARMUP_MINUTES = Number(process.env.SOAK_WARMUP_MINUTES ?? 1);
const PATIENTS = Math.max(2, Number(process.env.SOAK_PATIENTS ?? 4));
/** Beyond this many requests in flight the generator skips a tick (counted) rather than pile up. */
const MAX_IN_FLIGHT = 64;
const SAMPLE_MS = 5000;

const READ = `query ($id: ID!) { record(id: $id) { id version resource anchor { status } } }`;
const TIMELINE = `query ($patient: String!) {
  phr(patient: $patient) { timeline(first: 20) { edges { node { id resourceType resource } } totalCount } }
}`;
const PREDICT = `query ($f: JSON!) { predict(model: "pima-logreg", features: $f) { label probability } }`;
const PREDICT_FOR_PATIENT = `query ($patient: String!) {
  predictForPatient(patient: $patient, model: "pima-logreg") { label probability missing { feature } }
}`;
const RECORD_ADDED = `subscription ($patient: String!) { recordAdded(patient: $patient) { id resourceType } }`;

interface Patient {
  identity: Identity;
  client: OmnichartClient;
  /** Recent record ids (a ring), for reads by id. */
  ids: string[];
  /** Grant ids not revoked yet. */
  grants: string[];
  /**
   * The patient's consent signatures in order: each grant or revoke signs the patient's next chain
   * nonce, so two at once would sign the same nonce and one would fail, as with a real wallet.
   */
  consent: Promise<unknown>;
}

type Operation = 'read' | 'timeline' | 'write' | 'import' | 'grant' | 'predict' | 'predictForPatient';
/** The mix, as shares of the rate. Grants alternate with revokes (each a chain transaction). */
const MIX: [Operation, number][] = [
  ['read', 0.3],
  ['timeline', 0.15],
  ['write', 0.2],
  ['import', 0.05],
  ['grant', 0.05],
  ['predict', 0.15],
  ['predictForPatient', 0.1],
];

/** The mix for this run: all of MIX, or the operations of `--only` at the whole rate. */
function mixFor(only: Kind | undefined): [Operation, number][] {
  if (only === undefined) return MIX;
  const chosen: readonly Operation[] = KINDS[only];
  return MIX.filter(([operation]) => chosen.includes(operation));
}

interface Minute {
  requests: number;
  latencies: number[];
  /** Latencies of all but grants and revokes, whose work grows with the chart (see `report`). */
  latenciesButGrants: number[];
  errors: Map<string, number>;
  skipped: number;
}

const newMinute = (): Minute => ({
  requests: 0,
  latencies: [],
  latenciesButGrants: [],
  errors: new Map(),
  skipped: 0,
});

async function main(): Promise<void> {
  const bench = await startBenchNode('soak', { chain: { anchorIntervalMs: 250 } });
  const random = createRandom(0x50a4);
  let sequence = 0;
  try {
    const url = bench.node.url;
    const patients: Patient[] = [];
    for (let i = 0; i < PATIENTS; i += 1) {
      const identity = newIdentity();
      const client = new OmnichartClient(url);
      await register(client, identity, 'PATIENT', `Soak Patient ${i}`);
      await login(client, identity);
      patients.push({ identity, client, ids: [], grants: [], consent: Promise.resolve() });
    }
    const grantee = newIdentity();
    await register(new OmnichartClient(url), grantee, 'PRACTITIONER', 'Soak Grantee');
    for (const patient of patients) {
      // Enough of a chart for predictForPatient (pima-logreg tolerates 3 missing of 8 features).
      for (const resource of predictableChart(random)) {
        await patient.client.request(ADD_RECORD, { patient: patient.identity.wallet.address, resource });
      }
      for (let i = 0; i < 10; i += 1) {
        const { addRecord } = await patient.client.request<{ addRecord: { id: string } }>(ADD_RECORD, {
          patient: patient.identity.wallet.address,
          resource: observation(`seed-${sequence++}`, random),
        });
        remember(patient, addRecord.id);
      }
    }

    // Two subscribers, on the first two patients' charts; every record written there must reach them.
    const subscribed = patients.slice(0, 2);
    const received = [0, 0];
    const expected = [0, 0];
    const withSubscriptions = ONLY === undefined || ONLY === 'subscriptions';
    const subscriptions = withSubscriptions
      ? await Promise.all(subscribed.map((patient, s) => subscribe(url, patient, () => (received[s] += 1))))
      : [];
    // `--only subscriptions` writes to the subscribed charts alone, so every write is an event.
    const targets = ONLY === 'subscriptions' ? subscribed : patients;

    let minute = newMinute();
    const minutes: Minute[] = [];
    const samples: MemorySample[] = [];
    const total = { requests: 0, errors: new Map<string, number>(), skipped: 0 };
    let inFlight = 0;
    const firstMessages = new Map<string, string>();
    const byOperation = new Map<string, number>();
    const latencyByOperation = new Map<string, number[]>();
    const startedAt = performance.now();

    const run = async (operation: Operation) => {
      const patient = targets[Math.floor(random() * targets.length)];
      const t0 = performance.now();
      const current = minute;
      current.requests += 1;
      count(byOperation, operation);
      inFlight += 1;
      try {
        const { response, created } = await perform(operation, patient, grantee, random, () => sequence++);
        const ms = performance.now() - t0;
        current.latencies.push(ms);
        if (operation !== 'grant') current.latenciesButGrants.push(ms);
        if (!latencyByOperation.has(operation)) latencyByOperation.set(operation, []);
        latencyByOperation.get(operation)!.push(ms);
        const code = response.errors?.[0]?.extensions?.code ?? (response.errors?.length ? 'UNKNOWN' : null);
        if (code) {
          count(current.errors, `${operation}:${code}`);
          if (!firstMessages.has(`${operation}:${code}`)) {
            firstMessages.set(`${operation}:${code}`, response.errors![0].message);
          }
        }
        const s = subscribed.indexOf(patient);
        if (s >= 0) expected[s] += created;
      } catch (error) {
        current.latencies.push(performance.now() - t0);
        count(
          current.errors,
          `${operation}:${(error as Error).name === 'GraphQLRequestError' ? 'SETUP' : 'NETWORK'}`,
        );
      } finally {
        inFlight -= 1;
      }
    };

    const mix = mixFor(ONLY);
    console.log(
      `soak: ${MINUTES} min at ${mix.length ? RPS : 0} req/s of ${ONLY ?? 'mixed load'}, ${PATIENTS} ` +
        `patients, ${subscriptions.length} subscriptions, Postgres: ` +
        `${process.env.DATABASE_URL ? 'DATABASE_URL' : 'embedded'}`,
    );
    console.log(
      'minute  requests  skipped   p50 ms   p99 ms  p99 but grants   RSS MB  anon MB  tables MB  heap MB' +
        '   ext MB  bufs MB  fds  handles  errors',
    );
    const shares = cumulative(mix);
    const intervalMs = 1000 / RPS;
    const endAt = startedAt + MINUTES * 60_000;
    let nextTick = startedAt;
    let nextSample = startedAt;
    let nextMinute = startedAt + 60_000;
    const pending = new Set<Promise<void>>();
    // Open loop: ticks follow the clock, not the answers, so a slow node shows as latency, not as less load.
    while (performance.now() < endAt) {
      const now = performance.now();
      if (now >= nextSample) {
        // With --expose-gc (the npm script) a full collection first, so the trend is retained memory,
        // not garbage V8 has not collected yet.
        (globalThis as { gc?: () => void }).gc?.();
        samples.push(sampleMemory((now - startedAt) / 60_000, bench.dataDir));
        nextSample += SAMPLE_MS;
      }
      if (now >= nextMinute) {
        minutes.push(minute);
        report(minutes.length, minute, samples.at(-1) ?? sampleMemory(0, bench.dataDir));
        merge(total, minute);
        minute = newMinute();
        nextMinute += 60_000;
      }
      if (now >= nextTick) {
        nextTick += intervalMs;
        if (shares.length === 0) continue;
        if (inFlight >= MAX_IN_FLIGHT) {
          minute.skipped += 1;
          continue;
        }
        const r = random();
        const operation = shares.find(([, upTo]) => r < upTo)?.[0] ?? 'read';
        const work = run(operation);
        pending.add(work);
        void work.finally(() => pending.delete(work));
        continue;
      }
      await sleep(Math.max(1, Math.min(nextTick, nextSample, nextMinute) - performance.now()));
    }
    await Promise.all(pending);
    if (minute.requests > 0) {
      minutes.push(minute);
      report(minutes.length, minute, samples.at(-1) ?? sampleMemory(0, bench.dataDir));
      merge(total, minute);
    }
    // Events trail their writes by the delivery path; give them a moment before counting.
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && (received[0] < expected[0] || received[1] < expected[1]))
      await sleep(100);
    for (const subscription of subscriptions) subscription.dispose();

    const all = minutes.flatMap((m) => m.latencies).sort((a, b) => a - b);
    console.log(`\ntotals over ${minutes.length} min`);
    console.log(`  requests                  ${total.requests} (skipped ticks ${total.skipped})`);
    console.log(`  by operation              ${formatErrors(byOperation)}`);
    console.log(`  p50 / p99                 ${pct(all, 50).toFixed(1)} / ${pct(all, 99).toFixed(1)} ms`);
    console.log(`  p50 / p99 by operation    ${formatLatencies(latencyByOperation)}`);
    console.log(`  errors                    ${sumOf(total.errors)} ${formatErrors(total.errors)}`);
    for (const [code, message] of firstMessages) console.log(`    first ${code}: ${message}`);
    const firstRss = meanOfMinute(samples, 0, 'rss');
    const lastRss = meanOfMinute(samples, minutes.length - 1, 'rss');
    console.log(`  RSS first / last minute   ${mb(firstRss)} / ${mb(lastRss)} MB (mean of samples)`);
    reportTrends(samples, minutes.length);
    console.log(`  active handles, last      ${formatErrors(activeResources())}`);
    if (subscriptions.length > 0) {
      console.log(
        `  subscription events       ${received[0]}/${expected[0]} and ${received[1]}/${expected[1]} received/expected`,
      );
    }
  } finally {
    await bench.close();
  }
}

/** One operation; its answer and how many records it created (what a subscriber should see). */
async function perform(
  operation: Operation,
  patient: Patient,
  grantee: Identity,
  random: () => number,
  next: () => number,
): Promise<{ response: GraphQLResponse<unknown>; created: number }> {
  const address = patient.identity.wallet.address;
  switch (operation) {
    case 'read': {
      const id = patient.ids[Math.floor(random() * patient.ids.length)];
      return { response: await patient.client.send(READ, { id }), created: 0 };
    }
    case 'timeline':
      return { response: await patient.client.send(TIMELINE, { patient: address }), created: 0 };
    case 'write': {
      const response = await patient.client.send<{ addRecord: { id: string } }>(ADD_RECORD, {
        patient: address,
        resource: observation(`soak-${next()}`, random),
      });
      if (response.data?.addRecord) remember(patient, response.data.addRecord.id);
      return { response, created: response.data?.addRecord ? 1 : 0 };
    }
    case 'import': {
      const entries = Array.from({ length: 5 }, () => {
        const id = `soak-${next()}`;
        return { fullUrl: `urn:uuid:${uuid(id)}`, resource: observation(id, random) };
      });
      const response = await patient.client.send<{ importBundle: { created: number; written: boolean } }>(
        IMPORT_BUNDLE,
        { patient: address, bundle: { resourceType: 'Bundle', type: 'collection', entry: entries } },
      );
      return { response, created: response.data?.importBundle.created ?? 0 };
    }
    case 'grant': {
      const turn = patient.consent.then(() => grantOrRevoke(patient, grantee));
      patient.consent = turn.catch(() => undefined);
      return { response: await turn, created: 0 };
    }
    case 'predict':
      return {
        response: await patient.client.send(PREDICT, {
          f: {
            pregnancies: Math.floor(random() * 6),
            glucose: 80 + random() * 100,
            blood_pressure: 60 + random() * 30,
            bmi: 20 + random() * 20,
            diabetes_pedigree: random(),
            age: 20 + Math.floor(random() * 60),
          },
        }),
        created: 0,
      };
    case 'predictForPatient':
      return { response: await patient.client.send(PREDICT_FOR_PATIENT, { patient: address }), created: 0 };
  }
}

/** Revokes the oldest open grant, else grants: both patient-signed EIP-712 relays (chain transactions). */
async function grantOrRevoke(patient: Patient, grantee: Identity): Promise<GraphQLResponse<unknown>> {
  const open = patient.grants.shift();
  if (open) return revokeAccess(patient.client, patient.identity, open);
  const response = await grantAccess(patient.client, {
    patient: patient.identity,
    grantee: grantee.wallet.address,
    scopes: ['patient/Observation.rs'],
    expiresAt: new Date(Date.now() + 24 * 3600_000),
  });
  if (response.data?.grantAccess) patient.grants.push(response.data.grantAccess.id);
  return response;
}

function subscribe(url: string, patient: Patient, onEvent: () => void): Promise<{ dispose: () => void }> {
  const client: Client = createClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${patient.client.token}` },
    retryAttempts: 0,
  });
  return new Promise((resolve, reject) => {
    let disposing = false;
    const stop = client.subscribe(
      { query: RECORD_ADDED, variables: { patient: patient.identity.wallet.address } },
      {
        next: (value) => {
          if (value.data) onEvent();
          else console.log('subscription error', JSON.stringify(value.errors));
        },
        error: (error) => console.log('subscription failed', error),
        complete: () => {
          if (!disposing) console.log('subscription completed early');
        },
      },
    );
    // graphql-ws has no "subscribed" callback: the connection ack plus a moment is close enough here.
    client.on('connected', () =>
      setTimeout(
        () =>
          resolve({
            dispose: () => {
              disposing = true;
              stop();
              void client.dispose();
            },
          }),
        200,
      ),
    );
    client.on('closed', () => reject(new Error('subscription socket closed before connecting')));
  });
}

const LOINC = [
  ['2339-0', 'Glucose', 'mg/dL', 70, 180],
  ['39156-5', 'Body mass index', 'kg/m2', 18, 40],
  ['8462-4', 'Diastolic blood pressure', 'mm[Hg]', 55, 95],
  ['8867-4', 'Heart rate', '/min', 50, 110],
] as const;

function predictableChart(random: () => number) {
  return [
    { resourceType: 'Patient', id: 'soak-patient', gender: 'female', birthDate: '1980-04-02' },
    {
      ...observation('soak-pregnancies', random, 0),
      code: { coding: [{ system: 'http://loinc.org', code: '11996-6' }] },
      valueQuantity: { value: 2, unit: '{#}', system: 'http://unitsofmeasure.org', code: '{#}' },
    },
    ...[0, 1, 2].map((kind) => observation(`soak-chart-${kind}`, random, kind)),
  ];
}

function observation(id: string, random: () => number, kind = Math.floor(random() * LOINC.length)) {
  const [code, display, unit, low, high] = LOINC[kind];
  return {
    resourceType: 'Observation',
    id,
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code, display }], text: display },
    effectiveDateTime: new Date(Date.UTC(2020, 0, 1) + Math.floor(random() * 1e10)).toISOString(),
    valueQuantity: {
      value: Math.round((low + random() * (high - low)) * 10) / 10,
      unit,
      system: 'http://unitsofmeasure.org',
      code: unit,
    },
  };
}

function remember(patient: Patient, id: string): void {
  patient.ids.push(id);
  if (patient.ids.length > 200) patient.ids.shift();
}

function uuid(id: string): string {
  const hex = createHash('sha256').update(id).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

function cumulative(mix: [Operation, number][]): [Operation, number][] {
  const sum = mix.reduce((acc, [, share]) => acc + share, 0);
  let upTo = 0;
  return mix.map(([operation, share]) => [operation, (upTo += share / sum)]);
}

function count(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

function merge(total: { requests: number; errors: Map<string, number>; skipped: number }, m: Minute): void {
  total.requests += m.requests;
  total.skipped += m.skipped;
  for (const [code, n] of m.errors) total.errors.set(code, (total.errors.get(code) ?? 0) + n);
}

/**
 * One minute's line. `p99 but grants` leaves out grants and revokes: a grant wraps the key of every
 * covered record of the chart for the grantee (or checks that it holds one), so its time grows with
 * the chart, which the soak keeps growing; the other operations' work does not. `tables MB` is the
 * part of RSS that is LevelDB table files mapped for reading (clean file pages, see `sampleMemory`).
 * The memory columns are the latest sample's (at most one sample interval old), not read again.
 */
function report(index: number, m: Minute, memory: MemorySample): void {
  const sorted = [...m.latencies].sort((a, b) => a - b);
  const butGrants = [...m.latenciesButGrants].sort((a, b) => a - b);
  const handles = sumOf(activeResources());
  console.log(
    `${String(index).padStart(6)} ${String(m.requests).padStart(9)} ${String(m.skipped).padStart(8)} ` +
      `${pct(sorted, 50).toFixed(1).padStart(8)} ${pct(sorted, 99).toFixed(1).padStart(8)} ` +
      `${pct(butGrants, 99).toFixed(1).padStart(15)} ` +
      `${mb(memory.rss).padStart(8)} ${mb(memory.rssAnon).padStart(8)} ` +
      `${mb(memory.rssTables).padStart(10)} ` +
      `${mb(memory.heapUsed).padStart(8)} ${mb(memory.external).padStart(8)} ` +
      `${mb(memory.arrayBuffers).padStart(8)} ${String(openFds()).padStart(4)} ${String(handles).padStart(8)}  ` +
      `${formatErrors(m.errors) || 'none'}`,
  );
}

/** Native handles and requests libuv holds for this process, by kind (timers, sockets, fs requests). */
function activeResources(): Map<string, number> {
  const kinds = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) count(kinds, kind);
  return kinds;
}

/** Open file descriptors (Linux); -1 elsewhere. */
function openFds(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return -1;
  }
}

function formatErrors(errors: Map<string, number>): string {
  return [...errors].map(([code, n]) => `${code}=${n}`).join(' ');
}

function formatLatencies(byOperation: Map<string, number[]>): string {
  return [...byOperation]
    .map(([operation, list]) => {
      const sorted = [...list].sort((a, b) => a - b);
      return `${operation}=${pct(sorted, 50).toFixed(0)}/${pct(sorted, 99).toFixed(0)}`;
    })
    .join(' ');
}

function sumOf(errors: Map<string, number>): number {
  return [...errors.values()].reduce((a, b) => a + b, 0);
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

interface MemorySample {
  /** Minutes since the load started. */
  t: number;
  rss: number;
  /** RSS split as the kernel counts it: anonymous pages (heaps, malloc) vs mapped files (LevelDB tables). */
  rssAnon: number;
  rssFile: number;
  /** The part of rssFile that is LevelDB table files (`.ldb`) mapped for reading. */
  rssTables: number;
  /** The size of those table files on disk: what the mapped part can grow to (LevelDB maps up to 1,000). */
  tablesOnDisk: number;
  heapUsed: number;
  /** What V8 has committed for its heap: used plus free pages it keeps. */
  heapTotal: number;
  /** Memory V8 holds outside the JS heap (ArrayBuffers, Buffers, native wrappers). */
  external: number;
  /** The ArrayBuffer and Buffer part of external. */
  arrayBuffers: number;
}
type MemoryField = Exclude<keyof MemorySample, 't'>;

function sampleMemory(t: number, dataDir: string): MemorySample {
  const memory = process.memoryUsage();
  const status = procStatus();
  return {
    t,
    rss: memory.rss,
    rssAnon: status.RssAnon ?? 0,
    rssFile: status.RssFile ?? 0,
    rssTables: mappedTableBytes(),
    tablesOnDisk: tableFileBytes(dataDir),
    heapUsed: memory.heapUsed,
    heapTotal: memory.heapTotal,
    external: memory.external,
    arrayBuffers: memory.arrayBuffers,
  };
}

/**
 * Resident bytes of mapped LevelDB table files, from /proc/self/smaps (Linux; 0 elsewhere). LevelDB
 * reads its tables through read-only maps: clean pages of files on disk, which the kernel drops
 * under memory pressure and reads back on demand. They count in RSS, but no allocation holds them.
 */
function mappedTableBytes(): number {
  let text: string;
  try {
    text = readFileSync('/proc/self/smaps', 'utf8');
  } catch {
    return 0;
  }
  let inTable = false;
  let bytes = 0;
  for (const line of text.split('\n')) {
    // A mapping's header line: address range, permissions, offset, device, inode, then the path.
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) inTable = line.endsWith('.ldb');
    else if (inTable && line.startsWith('Rss:')) bytes += Number(/(\d+) kB/.exec(line)?.[1] ?? 0) * 1024;
  }
  return bytes;
}

/** Bytes of the LevelDB table files under `dir`, at any depth. */
function tableFileBytes(dir: string): number {
  let bytes = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ldb')) continue;
    try {
      bytes += statSync(path.join(entry.parentPath, entry.name)).size;
    } catch {
      // Compaction removed it between the listing and the stat.
    }
  }
  return bytes;
}

/** /proc/self/status sizes in bytes (Linux); empty elsewhere. */
function procStatus(): Record<string, number> {
  try {
    const sizes: Record<string, number> = {};
    for (const line of readFileSync('/proc/self/status', 'utf8').split('\n')) {
      const match = /^(\w+):\s+(\d+) kB$/.exec(line);
      if (match) sizes[match[1]] = Number(match[2]) * 1024;
    }
    return sizes;
  } catch {
    return {};
  }
}

/**
 * Trends (least squares, MB/min) per kind of memory, after warm-up and over the second half alone:
 * a leak keeps its slope in the second half; warm-up effects (V8 and malloc sizing to the load,
 * LevelDB caches filling to their bounds) flatten there.
 */
function reportTrends(samples: MemorySample[], minutes: number): void {
  const afterWarmup = samples.filter((s) => s.t >= WARMUP_MINUTES);
  const half = Math.max(WARMUP_MINUTES, minutes / 2);
  const secondHalf = samples.filter((s) => s.t >= half);
  if (afterWarmup.length < 3) {
    console.log('  memory trends             n/a (run longer than the warm-up)');
    return;
  }
  const gc = (globalThis as { gc?: unknown }).gc ? 'after a full GC' : 'no --expose-gc';
  console.log(
    `  memory trends, MB/min     after minute ${WARMUP_MINUTES} (${afterWarmup.length} samples) | ` +
      `second half, after minute ${half} (${secondHalf.length}); sampled ${gc}`,
  );
  const fields: [MemoryField, string][] = [
    ['rss', 'RSS'],
    ['rssAnon', '  anonymous'],
    ['rssFile', '  file-backed'],
    ['rssTables', '    LevelDB tables'],
    ['tablesOnDisk', 'LevelDB tables on disk'],
    ['heapUsed', 'JS heap used'],
    ['heapTotal', 'JS heap committed'],
    ['external', 'external'],
    ['arrayBuffers', '  of it ArrayBuffers'],
  ];
  for (const [field, label] of fields) {
    const trend = (list: MemorySample[]) =>
      list.length >= 3 ? (slope(list, field) / 1048576).toFixed(2).padStart(7) : '    n/a';
    console.log(
      `    ${label.padEnd(22)}${trend(afterWarmup)} | ${trend(secondHalf)}   ` +
        `(${mb(meanOfMinute(samples, 0, field))} -> ${mb(meanOfMinute(samples, minutes - 1, field))} MB)`,
    );
  }
}

function meanOfMinute(samples: MemorySample[], index: number, field: MemoryField): number {
  const inside = samples.filter((s) => s.t >= index && s.t < index + 1);
  return inside.reduce((acc, s) => acc + s[field], 0) / Math.max(1, inside.length);
}

/** Least-squares slope of one memory field (bytes) over time (minutes). */
function slope(samples: MemorySample[], field: MemoryField): number {
  const n = samples.length;
  const mt = samples.reduce((a, s) => a + s.t, 0) / n;
  const mr = samples.reduce((a, s) => a + s[field], 0) / n;
  const cov = samples.reduce((a, s) => a + (s.t - mt) * (s[field] - mr), 0);
  const varT = samples.reduce((a, s) => a + (s.t - mt) ** 2, 0);
  return varT === 0 ? 0 : cov / varT;
}

const mb = (bytes: number) => (bytes / 1048576).toFixed(0);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

main().catch((error: Error) => {
  console.error(error.stack ?? error.message);
  process.exit(1);
});
