import type { DataSource } from 'typeorm';
import { ChainCursorEntity } from './entities/index.js';

/** The chain_cursor table: named block numbers (how far events are applied, a rebuild's target). */
export class ChainCursorStore {
  constructor(private readonly dataSource: DataSource) {}

  private get cursors() {
    return this.dataSource.getRepository(ChainCursorEntity);
  }

  /** The block the cursor names, or null when it is not set. */
  async get(name: string): Promise<number | null> {
    return (await this.cursors.findOneBy({ name }))?.blockNumber ?? null;
  }

  /**
   * Several cursors with how long ago each was written, by the database's clock (another replica's
   * cursors, read by a follower; no clock skew between replicas enters the age).
   */
  async readWithAge(
    names: readonly string[],
  ): Promise<Map<string, { blockNumber: number; ageSeconds: number }>> {
    const rows: { name: string; block_number: number; age: number }[] = await this.dataSource.query(
      `SELECT name, block_number, extract(epoch FROM now() - updated_at)::float8 AS age
         FROM chain_cursor WHERE name = ANY($1::varchar[])`,
      [names],
    );
    return new Map(
      rows.map((r) => [r.name, { blockNumber: r.block_number, ageSeconds: Math.max(0, r.age) }]),
    );
  }

  async set(name: string, blockNumber: number): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO chain_cursor (name, block_number, updated_at) VALUES ($1, $2, now())
       ON CONFLICT (name) DO UPDATE SET block_number = EXCLUDED.block_number, updated_at = now()`,
      [name, blockNumber],
    );
  }

  async delete(name: string): Promise<void> {
    await this.cursors.delete({ name });
  }
}
