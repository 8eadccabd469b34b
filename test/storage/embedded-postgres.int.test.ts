import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from '../../src/logger.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/storage/embedded-postgres.js';
import { waitFor } from '../helpers/wait-for.js';

// One cluster for the whole file (initdb costs seconds); the tests run in order and build on each other.
let root: string;
let dir: string;
const running: EmbeddedPostgres[] = [];
// What the code under test logged, so a test can tell which recovery path it took.
let logged: { message: string; fields?: Record<string, unknown> }[] = [];
const record = (message: string, fields?: Record<string, unknown>) => void logged.push({ message, fields });
const logger: Logger = { debug: record, info: record, warn: record, error: record };

async function start(): Promise<EmbeddedPostgres> {
  logged = [];
  const db = await startEmbeddedPostgres({ dir, logger });
  running.push(db);
  return db;
}

async function query<T extends pg.QueryResultRow>(
  url: string,
  sql: string,
  values?: unknown[],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

async function postmasterPid(): Promise<number> {
  return Number((await readFile(path.join(dir, 'postmaster.pid'), 'utf8')).split('\n', 1)[0]);
}

/** Gone, or a zombie nobody reaped yet. */
function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  const stat = spawnSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).stdout.trim();
  return stat === '' || stat.startsWith('Z');
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'omnichart-pg-'));
  dir = path.join(root, 'postgres');
});

afterAll(async () => {
  await Promise.all(running.map((db) => db.stop()));
  await rm(root, { recursive: true, force: true });
});

it('initializes a cluster, answers queries on 127.0.0.1, and stops', async () => {
  const started = performance.now();
  const db = await start();
  const initdb = logged.find((l) => l.message === 'initialized embedded Postgres cluster');
  console.log(
    `embedded Postgres: initdb ${initdb?.fields?.ms} ms; initdb + first start ${Math.round(performance.now() - started)} ms`,
  );

  expect(db.url).toMatch(new RegExp(`^postgres://postgres:[^@]+@127\\.0\\.0\\.1:${db.port}/omnichart$`));
  expect(db.port).not.toBe(5432);
  const [row] = await query<{ db: string; encoding: string; fsync: string; listen: string }>(
    db.url,
    `SELECT current_database() AS db, pg_encoding_to_char(encoding) AS encoding,
            current_setting('fsync') AS fsync, current_setting('listen_addresses') AS listen
       FROM pg_database WHERE datname = current_database()`,
  );
  expect(row).toEqual({ db: 'omnichart', encoding: 'UTF8', fsync: 'on', listen: '127.0.0.1' });
  await query(db.url, 'CREATE TABLE kept (note text)');
  await query(db.url, 'INSERT INTO kept VALUES ($1)', ['written before a restart']);

  // The password sits beside the cluster, readable by its owner only; password auth is required.
  expect((await stat(`${dir}.password`)).mode & 0o777).toBe(0o600);
  await expect(stat(path.join(dir, 'postgres.password'))).rejects.toThrow();
  const wrong = db.url.replace(/:[^:@]+@/, ':wrong@');
  await expect(query(wrong, 'SELECT 1')).rejects.toThrow(/password authentication failed/);

  await db.stop();
  await db.stop(); // idempotent
  await expect(query(db.url, 'SELECT 1')).rejects.toThrow();
});

it('keeps the data across restarts', async () => {
  const started = performance.now();
  const db = await start();
  console.log(
    `embedded Postgres: restart of an existing cluster ${Math.round(performance.now() - started)} ms`,
  );
  expect(await query(db.url, 'SELECT note FROM kept')).toEqual([{ note: 'written before a restart' }]);
  await db.stop();
});

it('stops an orphaned postmaster left by a crashed node, then starts', async () => {
  const orphan = await start();
  const orphanPid = await postmasterPid();
  // The "crashed" node forgets `orphan` without stopping it; the next start must deal with the process.
  const db = await start();
  expect(logged.map((l) => l.message)).toContain(
    'stopping an orphaned embedded Postgres left by a previous run',
  );
  expect(await postmasterPid()).not.toBe(orphanPid);
  await waitFor(() => isGone(orphanPid), 10_000);
  await expect(query(orphan.url, 'SELECT 1')).rejects.toThrow();
  expect(await query(db.url, 'SELECT note FROM kept')).toEqual([{ note: 'written before a restart' }]);
  await db.stop();
});

it('removes a stale postmaster.pid whose process is dead, then starts', async () => {
  const dead = spawnSync(process.execPath, ['-e', '0']).pid;
  expect(isGone(dead)).toBe(true);
  const socketLine = dir;
  await writeFile(
    path.join(dir, 'postmaster.pid'),
    `${dead}\n${dir}\n${Math.floor(Date.now() / 1000)}\n5999\n${socketLine}\n127.0.0.1\n  1234567    98304\nready\n`,
  );
  const db = await start();
  expect(logged).toContainEqual({ message: 'removing stale postmaster.pid', fields: { pid: String(dead) } });
  expect(await postmasterPid()).not.toBe(dead);
  expect(await query(db.url, 'SELECT count(*)::int AS n FROM kept')).toEqual([{ n: 1 }]);
  await db.stop();
});

it('refuses to start an existing cluster whose password file is gone, rather than invent a new one', async () => {
  await rename(`${dir}.password`, `${dir}.password.moved`);
  try {
    await expect(start()).rejects.toThrow(/postgres\.password is missing/);
  } finally {
    await rename(`${dir}.password.moved`, `${dir}.password`);
  }
});
