import { readFile, readlink, realpath, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../logger.js';

/**
 * Clears what a killed node leaves in a cluster directory: a `postmaster.pid` whose process is gone is
 * removed; one whose process is still our Postgres on this directory (an orphan of a `kill -9`ed node)
 * gets that process stopped. A live process that we cannot identify is an error: starting a second
 * postmaster on the same directory would corrupt it.
 */
export async function recoverPostmaster(dataDir: string, logger: Logger): Promise<void> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  let text: string;
  try {
    text = await readFile(pidFile, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const pid = Number(text.split('\n', 1)[0]);
  if (!Number.isSafeInteger(pid) || pid <= 0 || !(await isAlive(pid))) {
    logger.info('removing stale postmaster.pid', { pid: text.split('\n', 1)[0] });
    await rm(pidFile, { force: true });
    return;
  }
  const ours = await servesDirectory(pid, dataDir);
  if (ours === false) {
    logger.info('removing postmaster.pid whose pid now belongs to another process', { pid });
    await rm(pidFile, { force: true });
    return;
  }
  if (ours === undefined) {
    throw new Error(
      `${pidFile} names live process ${pid}, which could not be inspected; stop it or remove the file`,
    );
  }
  logger.warn('stopping an orphaned embedded Postgres left by a previous run', { pid, dataDir });
  await terminate(pid, 15_000);
  await rm(pidFile, { force: true });
}

/** Fast shutdown (SIGINT), then SIGKILL if it has not exited within `graceMs`. */
export async function terminate(pid: number, graceMs: number): Promise<void> {
  signal(pid, 'SIGINT');
  if (await waitForExit(pid, graceMs)) return;
  signal(pid, 'SIGKILL');
  if (!(await waitForExit(pid, 5_000))) throw new Error(`Postgres process ${pid} did not exit after SIGKILL`);
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (await isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

/** Alive and not a zombie (a zombie is dead but not yet reaped by its parent). */
async function isAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc (not Linux): kill(0) is all we know
  }
}

/**
 * Whether `pid` is a postmaster on `dataDir`: Postgres chdirs into its data directory, and we start it
 * with an absolute `-D`. Undefined when the process cannot be inspected (no /proc, not permitted).
 */
async function servesDirectory(pid: number, dataDir: string): Promise<boolean | undefined> {
  const want = await realpath(dataDir);
  try {
    const args = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    if (!path.basename(args[0] ?? '').startsWith('postgres')) return false;
    const d = args.indexOf('-D');
    if (d >= 0 && args[d + 1] && (await realpath(args[d + 1]).catch(() => undefined)) === want) return true;
    return (await readlink(`/proc/${pid}/cwd`)) === want;
  } catch {
    return undefined;
  }
}
