/**
 * `npm run bench:federation`: how fast a write becomes visible elsewhere, and what a second replica
 * adds to read throughput.
 *
 * 1. Cross-node visibility: two nodes of one network (their own databases and blockstores, one
 *    anvil); a graphql-ws subscriber of `recordAdded` at B, 200 records written at A at 10/s. Latency
 *    from the write's acknowledgement at A to the event at B (anchor batch, block, B's indexer,
 *    the envelope fetched from A). Beside it the same between two replicas of one node (NOTIFY).
 * 2. Read throughput: `record(id) { id resource }` as the patient against one replica, then against
 *    two replicas of one node on one database (built processes, as deployed), with the load split
 *    between them. CPU time per request of each replica process is printed too: on a machine with
 *    fewer cores than replicas + load generator, the ratio shows the cores, not the node.
 */
import '../src/polyfills.js';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import autocannon from 'autocannon';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { ADD_RECORD, OmnichartClient, login, newIdentity, register } from '../examples/client.js';
import { startReplicas } from '../test/helpers/replicas.js';
import { stopTestDatabaseServer } from '../test/helpers/test-database.js';
import { startTwoNodes } from '../test/helpers/two-nodes.js';
import { eventually } from '../test/helpers/wait-for.js';

const RECORDS = Number(process.env.BENCH_FEDERATION_RECORDS ?? 200);
const RATE_PER_SECOND = 10;
const READ_SECONDS = Number(process.env.BENCH_FEDERATION_READ_SECONDS ?? 8);
const CONNECTIONS = 32;

const observation = (i: number) => ({
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
  effectiveDateTime: '2026-12-01T08:00:00Z',
  valueQuantity: { value: 50 + (i % 100), unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
});

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/**
 * Writes RECORDS records at `writeUrl` at a steady rate and times each one's arrival at a
 * `recordAdded` subscriber at `readUrl` (both logged in as the patient).
 */
async function visibility(label: string, writeUrl: string, readUrl: string): Promise<void> {
  const patient = newIdentity();
  const writer = new OmnichartClient(writeUrl);
  await register(writer, patient, 'PATIENT', 'Federation Patient');
  await login(writer, patient);
  const reader = new OmnichartClient(readUrl);
  await eventually(
    async () => ((await login(reader, patient).catch(() => null)) ? true : undefined),
    'the account at the reading node',
  );
  const acknowledged = new Map<string, number>();
  const latencies: number[] = [];
  const early = new Map<string, number>();
  const ws = createClient({
    url: readUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${reader.token}` },
    retryAttempts: 0,
  });
  let probeArrived = false;
  ws.subscribe<{ recordAdded: { id: string } }>(
    {
      query: 'subscription ($p: String!) { recordAdded(patient: $p) { id } }',
      variables: { p: patient.wallet.address },
    },
    {
      next: ({ data }) => {
        if (!data) return;
        const at = performance.now();
        const sent = acknowledged.get(data.recordAdded.id);
        if (sent === undefined) early.set(data.recordAdded.id, at);
        else latencies.push(at - sent);
        probeArrived = true;
      },
      error: (error) => console.error('subscription failed', error),
      complete: () => undefined,
    },
  );
  // Until one probe arrives the subscription may not be registered yet.
  await eventually(async () => {
    await writer.request(ADD_RECORD, { patient: patient.wallet.address, resource: observation(0) });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    return probeArrived ? true : undefined;
  }, 'the subscription');
  latencies.length = 0;
  early.clear();
  const started = performance.now();
  const writes: Promise<void>[] = [];
  for (let i = 0; i < RECORDS; i += 1) {
    const due = started + (i * 1000) / RATE_PER_SECOND;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
    writes.push(
      writer
        .request<{ addRecord: { id: string } }>(ADD_RECORD, {
          patient: patient.wallet.address,
          resource: observation(i),
        })
        .then(({ addRecord }) => {
          const at = performance.now();
          const arrived = early.get(addRecord.id);
          // Seen before the writer heard its own answer: visible at once.
          if (arrived !== undefined) latencies.push(Math.max(0, arrived - at));
          acknowledged.set(addRecord.id, at);
        }),
    );
  }
  await Promise.all(writes);
  await eventually(
    async () => (latencies.length >= RECORDS ? true : undefined),
    `all ${RECORDS} records at the other side`,
    120_000,
  ).catch(() => console.log(`  only ${latencies.length} of ${RECORDS} arrived within 2 minutes`));
  await ws.dispose();
  latencies.sort((a, b) => a - b);
  console.log(
    `${label.padEnd(44)} ${String(latencies.length).padStart(5)}  p50 ${percentile(latencies, 50).toFixed(0).padStart(5)} ms` +
      `  p95 ${percentile(latencies, 95).toFixed(0).padStart(5)} ms  max ${latencies.at(-1)!.toFixed(0).padStart(5)} ms` +
      `  (goal p95 < 1000 ms: ${percentile(latencies, 95) < 1000 ? 'met' : 'not met'})`,
  );
}

/** utime + stime of a process in µs (Linux /proc). */
function cpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100;
}

async function readLoad(
  urls: string[],
  token: string,
  ids: string[],
): Promise<{ perSecond: number; p50: number; p99: number; total: number; failed: number }> {
  let next = 0;
  const runs = await Promise.all(
    urls.map(async (url) => {
      let failed = 0;
      const result = await autocannon({
        url,
        connections: Math.max(1, Math.round(CONNECTIONS / urls.length)),
        duration: READ_SECONDS,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json',
          authorization: `Bearer ${token}`,
        },
        requests: [
          {
            setupRequest: (request) => ({
              ...request,
              body: JSON.stringify({
                query: 'query ($id: ID!) { record(id: $id) { id resource } }',
                variables: { id: ids[(next += 1) % ids.length] },
              }),
            }),
            onResponse: (status, body) => {
              if (status !== 200 || body.includes('"errors"')) failed += 1;
            },
          },
        ],
      });
      return { result, failed: failed + result.errors + result.timeouts };
    }),
  );
  return {
    perSecond: runs.reduce((sum, r) => sum + r.result.requests.average, 0),
    p50: Math.max(...runs.map((r) => r.result.latency.p50)),
    p99: Math.max(...runs.map((r) => r.result.latency.p99)),
    total: runs.reduce((sum, r) => sum + r.result.requests.total, 0),
    failed: runs.reduce((sum, r) => sum + r.failed, 0),
  };
}

console.log(
  `bench:federation on ${os.cpus().length} cores, load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
console.log(
  `\nVisibility: ${RECORDS} records written at ${RATE_PER_SECOND}/s, acknowledgement → recordAdded elsewhere`,
);
{
  const { a, b } = await startTwoNodes();
  try {
    await visibility('node A → node B (chain + HTTP peer fetch)', a.node.url, b.node.url);
  } finally {
    await b.close();
    await a.close();
  }
}

const replicas = await startReplicas(2);
try {
  await visibility('replica 1 → replica 2 (NOTIFY + bitswap)', replicas.nodes[0].url, replicas.nodes[1].url);

  console.log(
    `\nReads: record(id) { id resource } as the patient, ${CONNECTIONS} connections, ${READ_SECONDS} s`,
  );
  const patient = newIdentity();
  const client = new OmnichartClient(replicas.nodes[0].url);
  await register(client, patient, 'PATIENT', 'Read Patient');
  const token = await login(client, patient);
  const ids: string[] = [];
  for (let i = 0; i < 100; i += 1) {
    const { addRecord } = await client.request<{ addRecord: { id: string } }>(ADD_RECORD, {
      patient: patient.wallet.address,
      resource: observation(i),
    });
    ids.push(addRecord.id);
  }
  // Replica 2 fetches each envelope over bitswap once, then holds it.
  const second = Object.assign(new OmnichartClient(replicas.nodes[1].url), { token });
  for (const id of ids) await second.request('query ($id: ID!) { record(id: $id) { id resource } }', { id });
  const pids = replicas.nodes.map((n) => n.child.pid!);
  const rows: [string, string[]][] = [
    ['one replica', [replicas.nodes[0].url]],
    ['two replicas (load split)', replicas.nodes.map((n) => n.url)],
  ];
  let baseline = 0;
  console.log(
    'setup                       req/s     p50 ms   p99 ms   failed   CPU µs/req (replica 1, replica 2)   ratio',
  );
  for (const [label, urls] of rows) {
    const cpuBefore = pids.map(cpuMicros);
    const run = await readLoad(urls, token, ids);
    const cpu = pids.map((pid, i) => (cpuMicros(pid) - cpuBefore[i]) / Math.max(1, run.total));
    baseline ||= run.perSecond;
    console.log(
      `${label.padEnd(26)} ${run.perSecond.toFixed(0).padStart(6)} ${String(run.p50).padStart(10)} ${String(run.p99).padStart(8)} ${String(run.failed).padStart(8)}` +
        `   ${cpu
          .map((c) => c.toFixed(0))
          .join(', ')
          .padStart(20)}              ${(run.perSecond / baseline).toFixed(2)}×`,
    );
  }
  console.log(`(goal ≥ 1.7× for two replicas; CPU per request shows what each replica costs)`);
} finally {
  await replicas.close();
  await stopTestDatabaseServer();
}
process.exit(0);
