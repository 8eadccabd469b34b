import type { Pool, QueryResultRow } from 'pg';
import type { DataSource } from 'typeorm';

/**
 * The pg pool TypeORM's Postgres driver already holds, so hot-path stores can run named
 * (prepared) statements on the same connections without a second pool to size and close.
 */
export function poolOf(dataSource: DataSource): Pool {
  const pool = (dataSource.driver as unknown as { master?: Pool }).master;
  if (!pool) throw new Error('the data source is not a connected Postgres data source');
  return pool;
}

/**
 * Runs a named statement: each connection parses and plans it once, then only binds and executes
 * (what the query builder and unnamed queries paid on every call). `name` must be unique per text.
 */
export async function prepared<Row extends QueryResultRow>(
  pool: Pool,
  name: string,
  text: string,
  values: unknown[],
): Promise<Row[]> {
  return (await pool.query<Row>({ name, text, values })).rows;
}
