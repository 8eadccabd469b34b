import { execFile } from 'node:child_process';
import { chmod, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '../logger.js';

const run = promisify(execFile);

/** The unprivileged account Postgres runs as when we are root (Postgres refuses to run as root). */
export interface OsAccount {
  name: string;
  uid: number;
  gid: number;
}

/**
 * Returns the `postgres` OS account, creating it (system user, no home, no login shell) if missing.
 * Needs `groupadd`/`useradd` (Debian, Ubuntu, RHEL and friends).
 */
export async function ensurePostgresAccount(logger: Logger, name = 'postgres'): Promise<OsAccount> {
  const existing = await lookupAccount(name);
  if (existing) return existing;
  logger.info('creating OS user for embedded Postgres', { user: name });
  await run('groupadd', ['--system', name]).catch((err: { code?: number }) => {
    if (err.code !== 9) throw err; // 9: the group already exists
  });
  await run('useradd', ['--system', '--gid', name, '--no-create-home', '--shell', '/usr/sbin/nologin', name]);
  const created = await lookupAccount(name);
  if (!created) throw new Error(`Could not create the OS user "${name}" for embedded Postgres`);
  return created;
}

async function lookupAccount(name: string): Promise<OsAccount | undefined> {
  try {
    const uid = Number((await run('id', ['-u', name])).stdout.trim());
    const gid = Number((await run('id', ['-g', name])).stdout.trim());
    return { name, uid, gid };
  } catch {
    return undefined;
  }
}

/**
 * Makes sure `account` can walk down to `target`. `fixable` (the caller's own data directory, e.g. a
 * 0700 mkdtemp dir) gets `o+x` (traverse, not list); any other blocking directory is an error naming it.
 */
export async function ensureTraversable(
  target: string,
  account: OsAccount,
  logger: Logger,
  fixable?: string,
): Promise<void> {
  const chain: string[] = [];
  for (let dir = path.resolve(target); ; dir = path.dirname(dir)) {
    chain.push(dir);
    if (path.dirname(dir) === dir) break;
  }
  for (const dir of chain.reverse()) {
    const info = await stat(dir);
    const canTraverse =
      (info.mode & 0o001) !== 0 ||
      (info.uid === account.uid && (info.mode & 0o100) !== 0) ||
      (info.gid === account.gid && (info.mode & 0o010) !== 0);
    if (canTraverse) continue;
    if (fixable !== undefined && dir === path.resolve(fixable)) {
      logger.debug('allowing the postgres user to traverse the data directory', { dir });
      await chmod(dir, (info.mode & 0o7777) | 0o001);
      continue;
    }
    throw new Error(
      `The OS user "${account.name}" cannot reach ${target}: ${dir} is not traversable ` +
        `(chmod o+x ${dir}, or choose a data directory it can reach)`,
    );
  }
}
