/**
 * Bulk import throughput: 10,000 generated FHIR Observations through importBundle over real HTTP
 * (batches of 500), beside a raw Postgres multi-row insert of the same JSON in the same run; then
 * Synthea-shaped Bundles of 3,000 entries (real histories with fresh ids, one new patient each).
 *
 *   npm run bench:import     (embedded Postgres, or DATABASE_URL when set)
 *   BENCH_IMPORT_TOTAL=10000 BENCH_IMPORT_BATCH=500 BENCH_ANCHOR_BATCH=<node default>
 *   BENCH_SYNTHEA_BUNDLES=3 BENCH_SYNTHEA_ENTRIES=3000 BENCH_SYNTHEA_DIR=<folder of *.json.bz2>
 *   BENCH_VALIDATION_THREADS=<node default: one per core>   0 validates on the main thread
 *   BENCH_ANCHOR_DURING_IMPORT=0   pauses the anchor queue during the import (diagnostic: what the
 *                                  import costs without anchoring competing for the event loop/cores)
 */
import '../src/polyfills.js';
import os from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import pg from 'pg';
import { startBenchNode } from './bench-node.js';
import { OmnichartClient, login, newIdentity, register } from '../examples/client.js';
import { loadHistories, syntheaBundle } from './synthea-corpus.js';

const TOTAL = Number(process.env.BENCH_IMPORT_TOTAL ?? 10_000);
const BATCH = Number(process.env.BENCH_IMPORT_BATCH ?? 500);
/** The anchor queue's batch size; unset = the node's default (`OMNICHART_ANCHOR_BATCH_SIZE`). */
const ANCHOR_BATCH = process.env.BENCH_ANCHOR_BATCH ? Number(process.env.BENCH_ANCHOR_BATCH) : undefined;
const ANCHOR_DURING_IMPORT = process.env.BENCH_ANCHOR_DURING_IMPORT !== '0';
const SYNTHEA_BUNDLES = Number(process.env.BENCH_SYNTHEA_BUNDLES ?? 3);
const SYNTHEA_ENTRIES = Number(process.env.BENCH_SYNTHEA_ENTRIES ?? 3000);
const IMPORT = `mutation ($patient: String!, $bundle: JSON!) {
  importBundle(patient: $patient, bundle: $bundle) { created updated unchanged rejected written }
}`;
const VITALS = [
  ['29463-7', 'Body weight', 'kg', 50, 100],
  ['8302-2', 'Body height', 'cm', 150, 200],
  ['8867-4', 'Heart rate', '/min', 50, 110],
  ['8310-5', 'Body temperature', 'Cel', 36, 39],
  ['2339-0', 'Glucose', 'mg/dL', 70, 140],
] as const;

/** A valid vital-signs Observation, like the ones EHRs and Synthea write; deterministic per index. */
function observation(i: number, patientUrl: string) {
  const [code, display, unit, low, high] = VITALS[i % VITALS.length];
  const value = Math.round((low + ((i * 7919) % 1000) * ((high - low) / 1000)) * 10) / 10;
  const day = new Date(Date.UTC(2015, 0, 1) + i * 3_600_000).toISOString();
  return {
    fullUrl: `urn:uuid:00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    resource: {
      resourceType: 'Observation',
      id: `bench-obs-${i}`,
      status: 'final',
      category: [
        {
          coding: [
            {
              system: 'http://terminology.hl7.org/CodeSystem/observation-category',
              code: 'vital-signs',
              display: 'vital-signs',
            },
          ],
        },
      ],
      code: { coding: [{ system: 'http://loinc.org', code, display }], text: display },
      subject: { reference: patientUrl },
      effectiveDateTime: day,
      issued: day,
      valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit },
    },
  };
}

const VALIDATION_THREADS = process.env.BENCH_VALIDATION_THREADS;
const bench = await startBenchNode('import', {
  ...(ANCHOR_BATCH ? { chain: { anchorBatchSize: ANCHOR_BATCH } } : {}),
  ...(VALIDATION_THREADS ? { validation: { threads: Number(VALIDATION_THREADS) } } : {}),
});
const { node } = bench;
const timer = node.services.records.timer;
const anchorBatchSize = node.config.chain.anchorBatchSize;
try {
  console.log(
    `Omnichart import benchmark: node ${process.version}, ${os.cpus().length} cores, ` +
      `${node.database.embedded ? 'embedded' : 'external'} Postgres, ${TOTAL} resources in batches of ${BATCH}, ` +
      `anchor batches of ${anchorBatchSize}${ANCHOR_DURING_IMPORT ? '' : ', anchor queue PAUSED during the import'}, ` +
      `${node.config.validation.threads} validation threads for Bundles of ${node.config.validation.minEntries}+ entries`,
  );
  const client = new OmnichartClient(node.url);
  const patient = newIdentity();
  await register(client, patient, 'PATIENT', 'Bench Patient');
  await login(client, patient);

  const patientEntry = {
    fullUrl: 'urn:uuid:00000000-0000-4000-9000-000000000000',
    resource: { resourceType: 'Patient', id: 'bench-patient', name: [{ family: 'Bench', given: ['Pat'] }] },
  };
  const entries = Array.from({ length: TOTAL }, (_, i) => observation(i, patientEntry.fullUrl));
  const batches: unknown[][] = [];
  for (let i = 0; i < TOTAL; i += BATCH) batches.push(entries.slice(i, i + BATCH));

  // Warm-up outside the measurement (validator indexes, JIT, pools) with different resource ids.
  const warm = Array.from({ length: 100 }, (_, i) => observation(TOTAL + i, patientEntry.fullUrl));
  await client.request(IMPORT, {
    patient: patient.wallet.address,
    bundle: { resourceType: 'Bundle', type: 'collection', entry: [patientEntry, ...warm] },
  });

  // Start from an empty outbox, so the warm-up's anchoring does not fall into the measurement.
  await withTimeout(node.anchorQueue.drained(), 120_000, 'anchoring the warm-up');
  if (!ANCHOR_DURING_IMPORT) await node.anchorQueue.stop();
  timer.reset();
  timer.enabled = true;
  // How long any other request would wait for the node while the import runs (same event loop).
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  loopDelay.enable();
  const started = performance.now();
  let created = 0;
  for (const batch of batches) {
    const { importBundle } = await client.request<{ importBundle: { created: number; written: boolean } }>(
      IMPORT,
      {
        patient: patient.wallet.address,
        bundle: { resourceType: 'Bundle', type: 'collection', entry: [patientEntry, ...batch] },
      },
    );
    if (!importBundle.written) throw new Error('a benchmark batch was refused');
    created += importBundle.created;
  }
  const importSeconds = (performance.now() - started) / 1000;
  loopDelay.disable();
  timer.enabled = false;
  const stages = timer.snapshot();
  if (created !== TOTAL) throw new Error(`created ${created}, expected ${TOTAL}`);

  const leftToAnchor = await node.anchorQueue.pendingCount();
  if (!ANCHOR_DURING_IMPORT) node.anchorQueue.start();
  const anchorStart = performance.now();
  await withTimeout(node.anchorQueue.drained(), 600_000, 'anchoring the import');
  const anchorSeconds = (performance.now() - anchorStart) / 1000;

  const reimportStart = performance.now();
  for (const batch of batches) {
    await client.request(IMPORT, {
      patient: patient.wallet.address,
      bundle: { resourceType: 'Bundle', type: 'collection', entry: [patientEntry, ...batch] },
    });
  }
  const reimportSeconds = (performance.now() - reimportStart) / 1000;

  // Baseline: the same JSON, one multi-row INSERT per batch, straight into Postgres.
  const pool = new pg.Pool({
    connectionString: bench.databaseUrl,
    max: 4,
  });
  await pool.query(
    'CREATE TABLE IF NOT EXISTS bench_import_baseline (id bigserial primary key, body jsonb not null)',
  );
  const rawStart = performance.now();
  for (const batch of batches) {
    await pool.query('INSERT INTO bench_import_baseline (body) SELECT * FROM unnest($1::jsonb[])', [
      batch.map((entry) => JSON.stringify((entry as { resource: unknown }).resource)),
    ]);
  }
  const rawSeconds = (performance.now() - rawStart) / 1000;
  await pool.end();

  const rate = TOTAL / importSeconds;
  const rawRate = TOTAL / rawSeconds;
  console.log('\nresults');
  console.log(
    `  importBundle over GraphQL      ${rate.toFixed(0).padStart(8)} resources/s  (${importSeconds.toFixed(2)} s)`,
  );
  console.log(
    `  raw pg multi-row INSERT jsonb  ${rawRate.toFixed(0).padStart(8)} resources/s  (${rawSeconds.toFixed(2)} s)`,
  );
  console.log(`  ratio import / raw             ${((rate / rawRate) * 100).toFixed(1).padStart(8)} %`);
  console.log(
    `  re-import (all unchanged)      ${(TOTAL / reimportSeconds).toFixed(0).padStart(8)} resources/s`,
  );
  const delayMs = (ns: number) => (ns / 1e6).toFixed(1);
  console.log(
    `  event-loop delay during import p50 ${delayMs(loopDelay.percentile(50))} / p99 ${delayMs(loopDelay.percentile(99))} / max ${delayMs(loopDelay.max)} ms`,
  );
  console.log(
    `  anchoring after the import     ${anchorSeconds.toFixed(2).padStart(8)} s (drain of ${leftToAnchor} outbox rows left after the import, batches of ${anchorBatchSize})`,
  );
  console.log('\nmean ms per call of each stage (one call = one batch of ' + BATCH + '):');
  printStages(stages);

  if (SYNTHEA_BUNDLES > 0) await importSynthea(node.url);
} finally {
  await bench.close();
}

/**
 * Synthea-shaped Bundles, each a new patient's whole chart in one importBundle: the request bodies
 * are serialized before the clock starts, so the figure is the node's (client and node share this
 * process).
 */
async function importSynthea(url: string): Promise<void> {
  const histories = loadHistories();
  const runs: { entries: number; seconds: number; bytes: number }[] = [];
  timer.reset();
  for (let i = 0; i < SYNTHEA_BUNDLES; i += 1) {
    const client = new OmnichartClient(url);
    const patient = newIdentity();
    await register(client, patient, 'PATIENT', `Synthea Patient ${i}`);
    const token = await login(client, patient);
    const bundle = syntheaBundle(histories, SYNTHEA_ENTRIES, i);
    const body = JSON.stringify({ query: IMPORT, variables: { patient: patient.wallet.address, bundle } });
    await withTimeout(node.anchorQueue.drained(), 120_000, 'anchoring before a Synthea import');
    timer.enabled = true;
    const started = performance.now();
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body,
    });
    const answer = (await response.json()) as {
      data?: { importBundle: { created: number; rejected: number; written: boolean } };
      errors?: unknown;
    };
    const seconds = (performance.now() - started) / 1000;
    timer.enabled = false;
    const result = answer.data?.importBundle;
    if (!result?.written || result.created !== bundle.entry.length) {
      throw new Error(`Synthea bundle ${i} not imported whole: ${JSON.stringify(answer).slice(0, 500)}`);
    }
    runs.push({ entries: bundle.entry.length, seconds, bytes: Buffer.byteLength(body) });
  }
  const entries = runs.reduce((sum, r) => sum + r.entries, 0);
  const seconds = runs.reduce((sum, r) => sum + r.seconds, 0);
  console.log(
    `\nSynthea-shaped Bundles (${histories.length} histories, fresh ids and dates), one importBundle each:`,
  );
  for (const [i, run] of runs.entries()) {
    console.log(
      `  bundle ${i}: ${run.entries} entries, ${(run.bytes / 1e6).toFixed(1)} MB, ${run.seconds.toFixed(2)} s, ` +
        `${(run.entries / run.seconds).toFixed(0)} resources/s`,
    );
  }
  console.log(
    `  all: ${(entries / seconds).toFixed(0)} resources/s on ${os.availableParallelism()} cores (goal ≥ 4,000/s)`,
  );
  console.log('mean ms per call of each stage (one call = one Bundle):');
  printStages(timer.snapshot());
}

function printStages(stages: Record<string, { count: number; meanMs: number }>): void {
  for (const [stage, { count, meanMs }] of Object.entries(stages)) {
    console.log(`  ${stage.padEnd(14)} ${meanMs.toFixed(1).padStart(8)} ms  (n=${count})`);
  }
}

/** Fails loudly instead of hanging when anchoring stops making progress (the queue retries forever). */
async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
