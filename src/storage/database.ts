import path from 'node:path';
import type { DataSource } from 'typeorm';
import type { Logger } from '../logger.js';
import { createDataSource } from './data-source.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';

export interface Database {
  readonly dataSource: DataSource;
  /** The connection URL (of the embedded server when embedded), for connections outside TypeORM. */
  readonly url: string;
  /** True when this node runs its own Postgres inside the data dir. */
  readonly embedded: boolean;
  /** One round trip, for readiness. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Connects to `url`, or starts embedded Postgres in the data dir when no URL is configured,
 * and applies pending migrations before anything else touches the schema.
 */
export async function openDatabase(options: {
  url?: string;
  dataDir: string;
  logger: Logger;
}): Promise<Database> {
  const embeddedServer = options.url
    ? undefined
    : await startEmbeddedPostgres({ dir: path.join(options.dataDir, 'postgres'), logger: options.logger });
  const url = options.url ?? embeddedServer!.url;
  const dataSource = createDataSource(url);
  try {
    await dataSource.initialize();
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    if (applied.length > 0) {
      options.logger.info('database migrations applied', { migrations: applied.map((m) => m.name) });
    }
  } catch (error) {
    if (dataSource.isInitialized) await dataSource.destroy();
    await embeddedServer?.stop();
    throw error;
  }
  return {
    dataSource,
    url,
    embedded: embeddedServer !== undefined,
    async ping() {
      await dataSource.query('SELECT 1');
    },
    async close() {
      if (dataSource.isInitialized) await dataSource.destroy();
      await embeddedServer?.stop();
    },
  };
}
