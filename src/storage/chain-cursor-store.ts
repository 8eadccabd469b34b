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

  async set(name: string, blockNumber: number): Promise<void> {
    await this.cursors.upsert({ name, blockNumber }, ['name']);
  }

  async delete(name: string): Promise<void> {
    await this.cursors.delete({ name });
  }
}
