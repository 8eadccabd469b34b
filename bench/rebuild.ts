/**
 * Cache rebuild time: 10,000 records written through importBundle (batches of 500), anchored, then
 * the node is stopped, its database dropped and the node started again on an empty one: the start
 * replays the chain's events and re-indexes every version from the blockstore. Prints records/s.
 *
 *   npm run bench:rebuild     (needs DATABASE_URL: the bench drops and recreates databases there)
 *   BENCH_REBUILD_TOTAL=10000 BENCH_REBUILD_BATCH=500
 */
import '../src/polyfills.js';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createNode } from '../src/app.js';
import { buildConfig, type Config } from '../src/config.js';
import { silentLogger } from '../src/logger.js';
import { benchDatabase } from './bench-node.js';
import { OmnichartClient, login, newIdentity, register } from '../examples/client.js';
import { heartRateEntry } from './heart-rate-entries.js';

const TOTAL = Number(process.env.BENCH_REBUILD_TOTAL ?? 10_000);
const BATCH = Number(process.env.BENCH_REBUILD_BATCH ?? 500);
const IMPORT = `mutation ($patient: String!, $bundle: JSON!) {
  importBundle(patient: $patient, bundle: $bundle) { created rejected written }
}`;
const SUMMARY = `query ($p: String!) { phr(patient: $p) { summary { total } timeline(first: 5) { totalCount
  edges { node { id version createdAt effectiveAt anchor { txHash } } } } } }`;

if (!process.env.DATABASE_URL) {
  console.error('bench:rebuild needs DATABASE_URL (it drops the node database and makes a new one)');
  process.exit(2);
}
const dataDir = await mkdtemp(path.join(os.tmpdir(), 'omnichart-bench-rebuild-'));
await chmod(dataDir, 0o755);
let database = await benchDatabase();
const configFor = (url: string | undefined): Config =>
  buildConfig({
    dataDir,
    http: { port: 0 },
    database: { url },
    keys: { passphrase: 'benchmark-passphrase' },
    rateLimits: { enabled: false },
    logLevel: 'silent',
  });
try {
  let node = await createNode(configFor(database.url), silentLogger);
  console.log(
    `Omnichart rebuild benchmark: node ${process.version}, ${os.cpus().length} cores, ${TOTAL} records ` +
      `(bundles of ${BATCH}), anchor batches of ${node.config.chain.anchorBatchSize}`,
  );
  const client = new OmnichartClient(node.url);
  const patient = newIdentity();
  await register(client, patient, 'PATIENT', 'Bench Patient');
  await login(client, patient);
  const writeStart = performance.now();
  for (let start = 0; start < TOTAL; start += BATCH) {
    const entry = Array.from({ length: Math.min(BATCH, TOTAL - start) }, (_, k) =>
      heartRateEntry(start + k, {
        idPrefix: 'rebuild-obs',
        firstDay: new Date(Date.UTC(2015, 0, 1)),
        subject: 'Patient/bench',
      }),
    );
    const { importBundle } = await client.request<{ importBundle: { created: number; written: boolean } }>(
      IMPORT,
      { patient: patient.wallet.address, bundle: { resourceType: 'Bundle', type: 'collection', entry } },
    );
    if (!importBundle.written || importBundle.created !== entry.length) throw new Error('import refused');
  }
  await node.anchorQueue.drained();
  const writeSeconds = (performance.now() - writeStart) / 1000;
  console.log(`  written and anchored: ${TOTAL} records in ${writeSeconds.toFixed(1)} s`);
  const before = await client.request(SUMMARY, { p: patient.wallet.address });
  await node.close();

  await database.drop();
  database = await benchDatabase();
  const rebuildStart = performance.now();
  node = await createNode(configFor(database.url), silentLogger);
  const seconds = (performance.now() - rebuildStart) / 1000;
  const summary = node.rebuild;
  const again = new OmnichartClient(node.url);
  await login(again, patient);
  const after = await again.request(SUMMARY, { p: patient.wallet.address });
  const same = JSON.stringify(before) === JSON.stringify(after);
  console.log(
    `  rebuild (start on an empty database until ready): ${seconds.toFixed(1)} s, ` +
      `of which replaying the chain ${summary?.seconds.toFixed(1)} s; ` +
      `${summary?.recordVersions.adopted ?? 0} versions indexed = ${Math.round(TOTAL / seconds)} records/s ` +
      `(${Math.round(TOTAL / (summary?.seconds ?? seconds))} records/s of replay); ` +
      `missing ${summary?.recordVersions.missing ?? '?'}, refused ${summary?.recordVersions.refused ?? '?'}; ` +
      `chart ${same ? 'the same as before' : 'DIFFERS from before'}`,
  );
  await node.close();
  if (!same) process.exitCode = 1;
} finally {
  await database.drop();
  await rm(dataDir, { recursive: true, force: true });
}
