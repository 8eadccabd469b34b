/**
 * The request path against this machine's GraphQL floor, side by side in one run (issue 12's table).
 * The floor (`graphql-http` on `node:http` answering `{ hello }`) and the node each run in their own
 * process; autocannon drives both from this one, at the same connections and duration, floor first
 * and node right after for each row, so other load on the machine falls on both alike. Every row
 * counts responses with GraphQL errors: a fast wrong answer is not a result.
 *
 *   npm run bench:http            (BENCH_SECONDS per run, default 10; DATABASE_URL or embedded Postgres;
 *                                  BENCH_ROWS=me,record runs only rows whose label contains one of these)
 */
import { fork, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { ADD_RECORD, OmnichartClient, login, newIdentity, register } from '../examples/client.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const root = path.resolve(import.meta.dirname, '..', '..');
const observation = JSON.parse(
  readFileSync(path.join(root, 'test', 'fixtures', 'fhir', 'Observation-f001.json'), 'utf8'),
) as Record<string, unknown>;

interface Server {
  url: string;
  child: ChildProcess;
  ask<T>(message: string, key: string): Promise<T>;
}

/** Starts a server script of bench/http in its own process and waits for the URL it prints. */
async function startServer(script: string): Promise<Server> {
  const child = fork(path.join(import.meta.dirname, 'http', script), {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      const line = chunk
        .toString()
        .split('\n')
        .find((l) => l.startsWith('{'));
      if (line) resolve((JSON.parse(line) as { url: string }).url);
    });
  });
  const ask = <T>(message: string, key: string) =>
    new Promise<T>((resolve) => {
      const listener = (reply: Record<string, unknown>) => {
        if (!(key in reply)) return;
        child.off('message', listener);
        resolve(reply[key] as T);
      };
      child.on('message', listener);
      child.send(message);
    });
  return { url, child, ask };
}

interface Run {
  perSecond: number;
  p50: number;
  p99: number;
  requests: number;
  failed: number;
}

/** One autocannon run; `body` is called per request so writes carry fresh ids. */
async function load(url: string, connections: number, body: () => string, token?: string): Promise<Run> {
  let failed = 0;
  const result = await autocannon({
    url,
    connections,
    duration: seconds,
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    requests: [
      {
        setupRequest: (request) => ({ ...request, body: body() }),
        onResponse: (status, responseBody) => {
          if (status !== 200 || responseBody.includes('"errors"')) failed += 1;
        },
      },
    ],
  });
  return {
    perSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    failed: failed + result.errors + result.timeouts,
  };
}

const floor = await startServer('floor.js');
const node = await startServer('target.js');
try {
  const client = new OmnichartClient(node.url);
  const patient = newIdentity();
  const address = patient.wallet.address;
  await register(client, patient, 'PATIENT', 'Bench Patient');
  const token = await login(client, patient);
  let written = 0;
  const freshObservation = () => ({ ...observation, id: `http-bench-${process.pid}-${(written += 1)}` });
  const ids: string[] = [];
  for (let i = 0; i < 200; i += 1) {
    const added = await client.request<{ addRecord: { id: string } }>(ADD_RECORD, {
      patient: address,
      resource: freshObservation(),
    });
    ids.push(added.addRecord.id);
  }
  // A node up for a minute has planner statistics from autovacuum; this one is seconds old, and
  // with none Postgres plans a write's identity lookup as a walk of the whole chart.
  await node.ask('analyze', 'analyzed');
  const anyId = () => ids[Math.floor(Math.random() * ids.length)];
  const read = () =>
    JSON.stringify({
      query: 'query ($id: ID!) { record(id: $id) { id resource } }',
      variables: { id: anyId() },
    });
  const timelinePage = () =>
    JSON.stringify({
      query:
        'query ($p: String!) { phr(patient: $p) { timeline(first: 20) { edges { node { id resource } } } } }',
      variables: { p: address },
    });
  const write = () =>
    JSON.stringify({ query: ADD_RECORD, variables: { patient: address, resource: freshObservation() } });
  const hello = () => '{"query":"{ hello }"}';

  const allRows = [
    { label: '{ __typename } with a bearer token', body: () => '{"query":"{ __typename }"}', goal: 0.6 },
    { label: '{ me { address } }', body: () => '{"query":"{ me { address } }"}', goal: 0.6 },
    { label: 'record(id) { id resource }', body: read, goal: 0.4, p99: 25 },
    { label: 'addRecord (one Observation)', body: write, goal: 0.2, p99: 50 },
    {
      label: 'mixed: 40% by id, 40% timeline page, 20% addRecord',
      body: () => {
        const pick = Math.random();
        return pick < 0.4 ? read() : pick < 0.8 ? timelinePage() : write();
      },
      goal: 0.3,
    },
  ];
  // BENCH_ROWS=me,record picks rows by label (e.g. to profile one path with --cpu-prof).
  const only = process.env.BENCH_ROWS?.split(',').filter(Boolean);
  const rows = only ? allRows.filter((row) => only.some((part) => row.label.includes(part))) : allRows;
  console.log(
    `Omnichart HTTP benchmark: node ${process.version}, ${os.cpus().length} cores, load average ` +
      `${os.loadavg()[0].toFixed(2)}, 32 connections, ${seconds} s per run, floor run before each row`,
  );
  const table: string[] = [];
  const stages: string[] = [];
  for (const row of rows) {
    const base = await load(floor.url, 32, hello);
    await node.ask('reset', 'reset');
    const cpuBefore = await node.ask<number>('cpu', 'cpu');
    const run = await load(node.url, 32, row.body, token);
    const cpuPerRequest = ((await node.ask<number>('cpu', 'cpu')) - cpuBefore) / Math.max(1, run.requests);
    const share = run.perSecond / base.perSecond;
    const met = share >= row.goal && (row.p99 === undefined || run.p99 < row.p99);
    table.push(
      `| ${row.label} | ${run.perSecond.toFixed(0)} | ${run.p50} | ${run.p99} | ${base.perSecond.toFixed(0)} | ` +
        `${(share * 100).toFixed(1)} % | ${cpuPerRequest.toFixed(0)} | ${run.failed} | ` +
        `≥ ${row.goal * 100} %${row.p99 ? `, p99 < ${row.p99} ms` : ''}: ${met ? 'met' : 'not met'} |`,
    );
    const snapshot = await node.ask<Record<string, { count: number; meanMs: number }>>('stages', 'stages');
    const parts = Object.entries(snapshot).map(([stage, s]) => `${stage} ${s.meanMs.toFixed(3)} ms`);
    if (parts.length) stages.push(`  ${row.label}: ${parts.join(' | ')}`);
    await node.ask('drain', 'drained');
  }
  const serial = await load(node.url, 1, read, token);
  console.log(
    '\n| request (as the patient) | req/s | p50 ms | p99 ms | floor req/s | share of floor | node CPU µs/req | failed | goal |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const line of table) console.log(line);
  console.log(
    `\nrecord(id) at 1 connection: ${serial.perSecond.toFixed(0)} req/s, p50 ${serial.p50} ms, ` +
      `p99 ${serial.p99} ms (goal p50 < 2 ms: ${serial.p50 < 2 ? 'met' : 'not met'}), failed ${serial.failed}`,
  );
  if (stages.length)
    console.log(
      '\nMean wall time per call of each stage on the node (auth; policy; postgresRead = metadata; ipfsGet = ' +
        'blockstore; open = decrypt; graphqlParse, graphqlValidate, graphqlExecute; graphqlRequest = all but ' +
        'HTTP and serialization):\n' +
        stages.join('\n'),
    );
} finally {
  floor.child.kill('SIGTERM');
  node.child.kill('SIGTERM');
  await new Promise((resolve) => node.child.once('exit', resolve));
}
