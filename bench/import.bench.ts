/**
 * Bulk import throughput: 10,000 generated FHIR Observations through importBundle over real HTTP
 * (batches of 500), beside a raw Postgres multi-row insert of the same JSON in the same run.
 *
 *   npm run bench:import     (embedded Postgres, or DATABASE_URL when set)
 *   BENCH_IMPORT_TOTAL=10000 BENCH_IMPORT_BATCH=500 BENCH_ANCHOR_BATCH=<node default>
 *   BENCH_ANCHOR_DURING_IMPORT=0   pauses the anchor queue during the import (diagnostic: what the
 *                                  import costs without anchoring competing for the event loop/cores)
 */
import '../src/polyfills.js';
import os from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import pg from 'pg';
import { startBenchNode } from './bench-node.js';
import { OmnichartClient, login, newIdentity, register } from '../examples/client.js';

const TOTAL = Number(process.env.BENCH_IMPORT_TOTAL ?? 10_000);
const BATCH = Number(process.env.BENCH_IMPORT_BATCH ?? 500);
/** The anchor queue's batch size; unset = the node's default (`OMNICHART_ANCHOR_BATCH_SIZE`). */
const ANCHOR_BATCH = process.env.BENCH_ANCHOR_BATCH ? Number(process.env.BENCH_ANCHOR_BATCH) : undefined;
const ANCHOR_DURING_IMPORT = process.env.BENCH_ANCHOR_DURING_IMPORT !== '0';
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

const bench = await startBenchNode(
  'import',
  ANCHOR_BATCH ? { chain: { anchorBatchSize: ANCHOR_BATCH } } : {},
);
const { node } = bench;
const timer = node.services.records.timer;
const anchorBatchSize = node.config.chain.anchorBatchSize;
try {
  console.log(
    `Omnichart import benchmark: node ${process.version}, ${os.cpus().length} cores, ` +
      `${node.database.embedded ? 'embedded' : 'external'} Postgres, ${TOTAL} resources in batches of ${BATCH}, ` +
      `anchor batches of ${anchorBatchSize}${ANCHOR_DURING_IMPORT ? '' : ', anchor queue PAUSED during the import'}`,
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
  for (const [stage, { count, meanMs }] of Object.entries(stages)) {
    console.log(`  ${stage.padEnd(14)} ${meanMs.toFixed(1).padStart(8)} ms  (n=${count})`);
  }
} finally {
  await bench.close();
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
