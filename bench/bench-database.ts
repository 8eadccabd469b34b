import pg from 'pg';

/**
 * A fresh database for one benchmark run on the server at DATABASE_URL, dropped afterwards; without
 * DATABASE_URL the node runs embedded Postgres and there is nothing to create.
 */
export async function benchDatabase(): Promise<{ databaseUrl?: string; dropDatabase: () => Promise<void> }> {
  const base = process.env.DATABASE_URL;
  if (!base) return { databaseUrl: undefined, dropDatabase: async () => {} };
  const name = `omnichart_bench_${Date.now()}`;
  await onServer(base, `CREATE DATABASE ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    databaseUrl: url.toString(),
    dropDatabase: () => onServer(base, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

async function onServer(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
