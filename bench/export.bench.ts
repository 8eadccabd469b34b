/**
 * `omnichart export` of a 300-entry chart, the built command run as a patient would run it: over the
 * node's chain RPC and its /ipfs gateway while the node runs, then over the stopped node's data dir
 * (which adds copying the chain and blockstore and starting a throwaway anvil).
 *
 *   npm run bench:export     (embedded Postgres, or DATABASE_URL when set)
 *   BENCH_EXPORT_ENTRIES=300 BENCH_EXPORT_RUNS=3
 */
import '../src/polyfills.js';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createNode } from '../src/app.js';
import { buildConfig } from '../src/config.js';
import type { EmbeddedLedger } from '../src/ledger/embedded-chain.js';
import { openChainReader } from '../src/ledger/chain-reader.js';
import { gatewayBlockSource } from '../src/export/gateway-block-source.js';
import { exportChart } from '../src/export/patient-export.js';
import { silentLogger } from '../src/logger.js';
import {
  IMPORT_BUNDLE,
  OmnichartClient,
  READ_RECORD,
  identityFromKeyFile,
  login,
  register,
} from '../examples/client.js';
import { benchDatabase } from './bench-node.js';
import { heartRateEntry } from './heart-rate-entries.js';

const ENTRIES = Number(process.env.BENCH_EXPORT_ENTRIES ?? 300);
const RUNS = Number(process.env.BENCH_EXPORT_RUNS ?? 3);
const cli = path.resolve(import.meta.dirname, '..', 'src', 'cli', 'omnichart.js');

function omnichart(args: string[]): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) =>
    execFile(process.execPath, [cli, ...args], { maxBuffer: 256 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({
        code: error ? Number((error as { code?: number }).code ?? 1) : 0,
        stdout,
        stderr,
        ms: performance.now() - started,
      }),
    ),
  );
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const work = await mkdtemp(path.join(os.tmpdir(), 'omnichart-bench-export-'));
await chmod(work, 0o755);
const dataDir = path.join(work, 'node');
const keyFile = path.join(work, 'patient.json');
const database = await benchDatabase();
const node = await createNode(
  buildConfig({
    dataDir,
    http: { port: 0 },
    database: { url: database.url },
    keys: { passphrase: 'benchmark-passphrase' },
    rateLimits: { enabled: false },
    logLevel: 'silent',
  }),
  silentLogger,
);
try {
  if ((await omnichart(['keygen', '--out', keyFile])).code !== 0) throw new Error('keygen failed');
  const patient = await identityFromKeyFile(keyFile);
  const client = new OmnichartClient(node.url);
  await register(client, patient, 'PATIENT', 'Export Bench');
  await login(client, patient);
  const bundle = {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: Array.from({ length: ENTRIES }, (_, i) =>
      heartRateEntry(i, {
        idPrefix: 'export-bench',
        firstDay: new Date(Date.UTC(2020, 0, 1)),
        request: true,
      }),
    ),
  };
  const { importBundle } = await client.request<{
    importBundle: { written: boolean; entries: { recordId: string }[] };
  }>(IMPORT_BUNDLE, { patient: patient.wallet.address, bundle });
  if (!importBundle.written) throw new Error('import refused');
  for (;;) {
    const anchored = await Promise.all(
      importBundle.entries.map(async ({ recordId }) => {
        const { record } = await client.request<{ record: { anchor: { status: string } } }>(READ_RECORD, {
          id: recordId,
        });
        return record.anchor.status === 'ANCHORED';
      }),
    );
    if (anchored.every(Boolean)) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }

  const ledger = node.ledger as EmbeddedLedger;
  const base = new URL(node.url).origin;
  const remote = ['--rpc', ledger.chain.anvil.rpcUrl, '--contract', ledger.contractAddress, '--ipfs', base];
  const measure = async (label: string, sources: string[]) => {
    const times: number[] = [];
    const inner: number[] = [];
    for (let run = 0; run < RUNS; run += 1) {
      const summaryFile = path.join(work, 'summary.json');
      const result = await omnichart([
        'export',
        '--key',
        keyFile,
        '--out',
        path.join(work, 'out.json'),
        '--summary',
        summaryFile,
        ...sources,
      ]);
      if (result.code !== 0)
        throw new Error(`${label} export failed (${result.code}): ${result.stderr}${result.stdout}`);
      const summary = JSON.parse(await readFile(summaryFile, 'utf8')) as {
        verified: number;
        seconds: number;
      };
      if (summary.verified !== ENTRIES)
        throw new Error(`${label}: verified ${summary.verified} of ${ENTRIES}`);
      times.push(result.ms);
      inner.push(summary.seconds * 1000);
    }
    console.log(
      `${label.padEnd(22)} ${ENTRIES} entries: ${median(times).toFixed(0)} ms wall (median of ${RUNS}: ` +
        `${times.map((t) => t.toFixed(0)).join(', ')}), ${median(inner).toFixed(0)} ms inside the command, ` +
        `${(ENTRIES / (median(times) / 1000)).toFixed(0)} entries/s wall`,
    );
  };
  console.log(
    `export bench on ${os.cpus().length} CPUs, Node ${process.version}, load ${os.loadavg()[0].toFixed(1)}`,
  );
  await measure('rpc + node gateway', remote);
  // The same work in this process, by stage: what the command costs beyond start-up.
  const chain = await openChainReader({
    rpcUrl: ledger.chain.anvil.rpcUrl,
    contract: ledger.contractAddress,
  });
  const t0 = performance.now();
  const anchors = await chain.anchorsForPatient(patient.wallet.address);
  const t1 = performance.now();
  const chart = await exportChart({
    chain,
    blocks: gatewayBlockSource(base),
    patient: patient.wallet.address,
    boxSecretKey: patient.boxKeyPair.secretKey,
  });
  const t2 = performance.now();
  chain.close();
  console.log(
    `in process             ${anchors.length} anchors read in ${(t1 - t0).toFixed(0)} ms; ` +
      `${chart.records.length} records fetched, verified and decrypted in ${(t2 - t1).toFixed(0)} ms (logs read again)`,
  );
  await node.close();
  await measure('stopped data dir', ['--data-dir', dataDir]);
} finally {
  await node.close().catch(() => undefined);
  await database.drop();
  await rm(work, { recursive: true, force: true });
}
