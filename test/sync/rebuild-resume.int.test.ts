import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { OmnichartClient, login, newIdentity, register } from '../../examples/client.js';
import { exited, killProcessesUsing, startBuiltNode, type BuiltNode } from '../helpers/built-node.js';
import { createTestDatabase } from '../helpers/test-database.js';
import { waitFor } from '../helpers/wait-for.js';

const TOTAL = 600;
const IMPORT = `mutation ($patient: String!, $bundle: JSON!) { importBundle(patient: $patient, bundle: $bundle) { created } }`;
const CHART = `query ($p: String!) { phr(patient: $p) { summary { total counts { resourceType count } }
  timeline(first: 500) { totalCount edges { cursor node { id version cid createdAt updatedAt effectiveAt resource
    anchor { status txHash blockNumber } } } } } }`;

const observation = (i: number) => ({
  fullUrl: `urn:uuid:00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
  resource: {
    resourceType: 'Observation',
    id: `resume-${i}`,
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
    subject: { reference: 'Patient/r' },
    effectiveDateTime: new Date(Date.UTC(2020, 0, 1) + i * 60_000).toISOString(),
    valueQuantity: { value: 40 + (i % 90), unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
  },
});

const omnichart = path.resolve(import.meta.dirname, '..', '..', 'dist', 'src', 'cli', 'omnichart.js');

/** `omnichart rebuild` as an operator runs it: its exit status and what it printed. */
async function rebuild(dataDir: string, databaseUrl: string, ...args: string[]) {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      [omnichart, 'rebuild', '--data-dir', dataDir, ...args],
      {
        env: { PATH: process.env.PATH, DATABASE_URL: databaseUrl },
      },
    );
    return { status: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { status: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

async function count(url: string, sql: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return Number((await client.query(sql)).rows[0].n);
  } catch {
    return 0; // the schema is not migrated yet
  } finally {
    await client.end();
  }
}

describe('an interrupted rebuild', () => {
  let dataDir: string;
  const databases: { drop(): Promise<void> }[] = [];
  let node: BuiltNode | undefined;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'omnichart-resume-'));
    await chmod(dataDir, 0o755);
  });

  afterAll(async () => {
    if (node) node.child.kill('SIGKILL');
    killProcessesUsing(dataDir);
    for (const database of databases) await database.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const start = async (url: string, onSpawn?: (child: ChildProcess) => void) =>
    startBuiltNode(dataDir, {
      env: { DATABASE_URL: url, OMNICHART_RATE_LIMITS: 'off' },
      onSpawn,
      // A start that rebuilds answers once the rebuild is done; the machine may be busy.
      startTimeoutMs: 240_000,
    });

  it('resumes after kill -9 and ends with the same answers', async () => {
    const first = await createTestDatabase();
    databases.push(first);
    node = await start(first.url);
    const patient = newIdentity();
    let client = new OmnichartClient(node.url);
    await register(client, patient, 'PATIENT', 'Resuming Patient');
    await login(client, patient);
    for (let at = 0; at < TOTAL; at += 300) {
      const entry = Array.from({ length: 300 }, (_, k) => observation(at + k));
      await client.request(IMPORT, {
        patient: patient.wallet.address,
        bundle: { resourceType: 'Bundle', type: 'collection', entry },
      });
    }
    await waitFor(
      async () => (await count(first.url, 'SELECT count(*) AS n FROM anchor_outbox')) === 0,
      60_000,
      100,
    );
    const before = await client.request(CHART, { p: patient.wallet.address });
    // The command refuses a running node, then a cache that is not empty.
    const whileRunning = await rebuild(dataDir, first.url);
    expect(whileRunning.status).toBe(3);
    expect(whileRunning.stderr).toMatch(
      /another Omnichart node \(pid \d+\) is using the data dir.*stop it first/,
    );
    node.child.kill('SIGTERM');
    expect(await exited(node.child)).toBe(0);
    node = undefined;
    const notEmpty = await rebuild(dataDir, first.url);
    expect(notEmpty.status).toBe(4);
    expect(notEmpty.stderr).toContain('the cache is not empty');

    // Killed while rebuilding: once some versions are back, well before all of them are.
    const second = await createTestDatabase();
    databases.push(second);
    let atKill = -1;
    // Meanwhile /readyz says how far it is and /graphql refuses to answer from a half-built cache.
    let readyz: { status: number; body: { ready: boolean; failing: string[]; rebuild: unknown } } | undefined;
    let graphql: { status: number; body: unknown } | undefined;
    // The kill and the count that follows it; awaited below, since the child's exit can be seen first.
    let killer: Promise<void> | undefined;
    const killed = start(second.url, (child) => {
      let log = '';
      child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
      killer = (async () => {
        await waitFor(
          async () =>
            /"message":"cache rebuild".*"url":"[^"]+"/.test(log) &&
            (await count(second.url, 'SELECT count(*) AS n FROM record_version')) >= 100,
          120_000,
          5,
        );
        const url = /"message":"cache rebuild".*"url":"([^"]+)"/.exec(log)![1];
        const ready = await fetch(new URL('/readyz', url));
        readyz = { status: ready.status, body: (await ready.json()) as NonNullable<typeof readyz>['body'] };
        const answer = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: '{ models { id } }' }),
        });
        graphql = { status: answer.status, body: await answer.json() };
        child.kill('SIGKILL');
        atKill = await count(second.url, 'SELECT count(*) AS n FROM record_version');
      })();
    });
    await expect(killed).rejects.toThrow(/exited/);
    await killer;
    expect(atKill).toBeGreaterThanOrEqual(100);
    expect(atKill).toBeLessThan(TOTAL);
    expect(readyz).toMatchObject({
      status: 503,
      body: {
        ready: false,
        failing: ['rebuild'],
        rebuild: { state: 'rebuilding', targetBlock: expect.any(Number) },
      },
    });
    expect(graphql).toEqual({
      status: 503,
      body: {
        errors: [
          {
            message: 'this node is rebuilding its cache from the chain; try again shortly',
            extensions: { code: 'SERVICE_UNAVAILABLE' },
          },
        ],
      },
    });
    expect(
      await count(second.url, `SELECT count(*) AS n FROM chain_cursor WHERE name = 'rebuild-target'`),
    ).toBe(1);

    node = await start(second.url);
    expect(node.log()).toContain('resuming an interrupted cache rebuild');
    client = new OmnichartClient(node.url);
    await login(client, patient);
    expect(await client.request(CHART, { p: patient.wallet.address })).toEqual(before);
    expect(await count(second.url, 'SELECT count(*) AS n FROM record_version')).toBe(TOTAL);
    expect(
      await count(second.url, `SELECT count(*) AS n FROM chain_cursor WHERE name = 'rebuild-target'`),
    ).toBe(0);
    node.child.kill('SIGTERM');
    await exited(node.child);
    node = undefined;

    // `omnichart rebuild` on a third, empty database: a summary, then a start that needs no rebuild.
    const third = await createTestDatabase();
    databases.push(third);
    const rebuilt = await rebuild(dataDir, third.url);
    expect(rebuilt.status).toBe(0);
    expect(rebuilt.stdout).toMatch(new RegExp(`${TOTAL} record versions indexed .*0 missing .*0 refused`));
    node = await start(third.url);
    expect(node.log()).not.toContain('rebuilding it from the chain');
    client = new OmnichartClient(node.url);
    await login(client, patient);
    expect(await client.request(CHART, { p: patient.wallet.address })).toEqual(before);
  }, 400_000);
});
