/**
 * addRecord and record(id) over real HTTP at 1 and 32 concurrent clients, with the mean cost of each
 * stage on the node, beside a baseline run in the same process: a plain Postgres insert / select of
 * the same JSON at the same concurrency.
 *
 *   npm run bench            (embedded Postgres, or DATABASE_URL when set)
 */
import '../src/polyfills.js';
import os from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { ADD_RECORD, OmnichartClient, login, newIdentity, register } from '../examples/client.js';
import { startBenchNode } from './bench-node.js';
import { measure, printResults, type RunResult } from './stats.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const resource = JSON.parse(
  readFileSync(path.join(root, 'test', 'fixtures', 'fhir', 'Observation-f001.json'), 'utf8'),
);
const READ = `query ($id: ID!) { record(id: $id) { id resource } }`;
const plans = [
  { concurrency: 1, requests: Number(process.env.BENCH_REQUESTS_SERIAL ?? 200) },
  { concurrency: 32, requests: Number(process.env.BENCH_REQUESTS_CONCURRENT ?? 1000) },
];

const bench = await startBenchNode('records');
const { node } = bench;
const timer = node.services.records.timer;
try {
  console.log(
    `Omnichart benchmark: node ${process.version}, ${os.cpus().length} cores, ${node.database.embedded ? 'embedded' : 'external'} Postgres`,
  );
  const client = new OmnichartClient(node.url);
  const patient = newIdentity();
  await register(client, patient, 'PATIENT', 'Bench Patient');
  await login(client, patient);
  // A new resource id each call: the same id again would be an unchanged re-write, not a new record.
  let written = 0;
  const add = async () =>
    (
      await client.request<{ addRecord: { id: string } }>(ADD_RECORD, {
        patient: patient.wallet.address,
        resource: { ...resource, id: `bench-${(written += 1)}` },
      })
    ).addRecord.id;
  for (let i = 0; i < 20; i += 1) await add(); // warm-up

  const pool = new pg.Pool({ connectionString: bench.databaseUrl, max: 32 });
  await pool.query(
    'CREATE TABLE IF NOT EXISTS bench_baseline (id bigserial primary key, body jsonb not null)',
  );
  const body = JSON.stringify(resource);

  const writes: RunResult[] = [];
  const reads: RunResult[] = [];
  const writeBaseline = new Map<string, RunResult>();
  const readBaseline = new Map<string, RunResult>();
  const stages: Record<string, Record<string, { count: number; meanMs: number }>> = {};
  const ids: string[] = [];

  for (const { concurrency, requests } of plans) {
    writeBaseline.set(
      `${concurrency}`,
      await measure('baseline: pg INSERT jsonb', requests, concurrency, () =>
        pool.query('INSERT INTO bench_baseline (body) VALUES ($1)', [body]),
      ),
    );
    timer.reset();
    timer.enabled = true;
    writes.push(
      await measure('addRecord', requests, concurrency, async () => {
        ids.push(await add());
      }),
    );
    const anchorStart = performance.now();
    await node.anchorQueue.drained();
    timer.add('anchor drain after run (total)', performance.now() - anchorStart);
    stages[`addRecord x${concurrency}`] = timer.snapshot();
    timer.enabled = false;
  }
  for (const { concurrency, requests } of plans) {
    readBaseline.set(
      `${concurrency}`,
      await measure('baseline: pg SELECT jsonb', requests, concurrency, (i) =>
        pool.query('SELECT body FROM bench_baseline WHERE id = $1', [1 + (i % 100)]),
      ),
    );
    timer.reset();
    timer.enabled = true;
    reads.push(
      await measure('record(id) with resource', requests, concurrency, (i) =>
        client.request(READ, { id: ids[i % ids.length] }),
      ),
    );
    stages[`record(id) x${concurrency}`] = timer.snapshot();
    timer.enabled = false;
  }
  await pool.end();

  printResults('Writes', [...writes, ...writeBaseline.values()], writeBaseline);
  printResults('Reads', [...reads, ...readBaseline.values()], readBaseline);
  console.log('\nMean cost per call of each stage on the node (ms):');
  for (const [run, snapshot] of Object.entries(stages)) {
    const parts = Object.entries(snapshot).map(
      ([stage, { count, meanMs }]) => `${stage} ${meanMs.toFixed(3)} (n=${count})`,
    );
    console.log(`  ${run.padEnd(18)} ${parts.join(' | ')}`);
  }
} finally {
  await bench.close();
}
