import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

// The repository root, whether this runs from test/helpers (ts-jest) or dist/test/helpers (a bench).
const here = path.resolve(import.meta.dirname, '..', '..');
const repoRoot = path.basename(here) === 'dist' ? path.dirname(here) : here;
const main = path.join(repoRoot, 'dist', 'src', 'main.js');

/** The built node running as a child process, as `npm start` runs it. */
export interface BuiltNode {
  child: ChildProcess;
  url: string;
  /** Everything the node wrote to stderr (its JSON log). */
  log(): string;
}

export interface BuiltNodeOptions {
  /** Extra environment on top of the data dir and a free port, e.g. DATABASE_URL. */
  env?: Record<string, string>;
  startTimeoutMs?: number;
  /** Told the child as soon as it is spawned (to kill it before it listens, say). */
  onSpawn?: (child: ChildProcess) => void;
}

/**
 * Starts `dist/src/main.js` with no configuration but a data dir (and `options.env`): the caller's
 * OMNICHART_*, DATABASE_URL and CHAIN_RPC_URL are dropped, so the test sees the defaults `npm start` has.
 * Resolves once the node logs where GraphQL listens.
 */
export async function startBuiltNode(dataDir: string, options: BuiltNodeOptions = {}): Promise<BuiltNode> {
  if (!existsSync(main)) throw new Error('dist/src/main.js is missing: run `npm run build` (npm test does)');
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) => !key.startsWith('OMNICHART_') && !['DATABASE_URL', 'CHAIN_RPC_URL'].includes(key),
    ),
  );
  const child = spawn(process.execPath, [main], {
    cwd: repoRoot,
    env: { ...inherited, ...options.env, OMNICHART_DATA_DIR: dataDir, OMNICHART_PORT: '0' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  options.onSpawn?.(child);
  let log = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    log += chunk.toString();
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node did not start in time:\n${log}`));
    }, options.startTimeoutMs ?? 90_000);
    const onData = () => {
      const match = /GraphQL listening at (http:\/\/\S+?\/graphql)/.exec(log);
      if (!match) return;
      clearTimeout(timer);
      child.stderr!.off('data', onData);
      child.off('exit', onExit);
      resolve(match[1]);
    };
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`node exited with ${code} before listening:\n${log}`));
    };
    child.stderr!.on('data', onData);
    child.once('exit', onExit);
  });
  return { child, url, log: () => log };
}

/** Resolves with the exit code once the child has exited (null when a signal ended it). */
export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** `kill -9` of the node process alone: its Postgres and anvil children are left orphaned, as in a crash. */
export async function killNode(node: BuiltNode): Promise<void> {
  if (node.child.exitCode === null && node.child.signalCode === null) node.child.kill('SIGKILL');
  await exited(node.child);
}

/** Processes whose command line names the data dir: the postgres and anvil children of a node. */
export function processesUsing(dataDir: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dataDir);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/**
 * Kills what a node on `dataDir` left running (after a test's last kill -9): Postgres names the data
 * dir on its command line; anvil does not, so its pid comes from the pid file the node keeps.
 */
export function killProcessesUsing(dataDir: string): void {
  for (const pid of [...processesUsing(dataDir), ...anvilOf(dataDir)]) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** The anvil a node on `dataDir` started, from `chain/anvil.pid`, if it still runs. */
function anvilOf(dataDir: string): number[] {
  try {
    const pid = Number(readFileSync(path.join(dataDir, 'chain', 'anvil.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('anvil')
      ? [pid]
      : [];
  } catch {
    return [];
  }
}
