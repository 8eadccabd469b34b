import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { silentLogger } from '../../src/logger.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/storage/embedded-postgres.js';

let embedded: Promise<{ server: EmbeddedPostgres; dir: string }> | undefined;

/**
 * The Postgres server tests use: DATABASE_URL when set (CI points it at the machine's server),
 * otherwise one embedded server per test file.
 */
async function serverUrl(): Promise<string> {
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
  embedded ??= (async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'omnichart-pg-'));
    await chmod(dir, 0o755);
    return { server: await startEmbeddedPostgres({ dir: path.join(dir, 'pg'), logger: silentLogger }), dir };
  })();
  return (await embedded).server.url;
}

/** A fresh, empty database on the test server (named `<prefix><random>`); dropped by the returned function. */
export async function createTestDatabase(
  prefix = 'omnichart_test_',
): Promise<{ url: string; drop: () => Promise<void> }> {
  const base = new URL(await serverUrl());
  const name = `${prefix}${randomBytes(6).toString('hex')}`;
  await withAdmin(base, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () =>
      withAdmin(base, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(
        () => undefined,
      ),
  };
}

/** Stops the embedded server of this test file, if one was started. */
export async function stopTestDatabaseServer(): Promise<void> {
  if (!embedded) return;
  const { server, dir } = await embedded;
  embedded = undefined;
  await server.stop();
  await rm(dir, { recursive: true, force: true });
}

async function withAdmin<T>(base: URL, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const adminUrl = new URL(base);
  adminUrl.pathname = '/postgres';
  const client = new pg.Client({ connectionString: adminUrl.toString() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
