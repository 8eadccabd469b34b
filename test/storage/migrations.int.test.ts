import { createDataSource } from '../../src/storage/data-source.js';
import { createTestDatabase, stopTestDatabaseServer } from '../helpers/test-database.js';

describe('migrations', () => {
  afterAll(() => stopTestDatabaseServer());

  it('build exactly the schema the entities describe, and roll back cleanly', async () => {
    const database = await createTestDatabase();
    const dataSource = createDataSource(database.url);
    try {
      await dataSource.initialize();
      const applied = await dataSource.runMigrations();
      expect(applied.length).toBeGreaterThan(0);
      // What TypeORM would still change to match the entities: nothing, if migrations are complete.
      const pending = await dataSource.driver.createSchemaBuilder().log();
      expect(pending.upQueries.map((q) => q.query)).toEqual([]);
      for (let i = 0; i < applied.length; i += 1) await dataSource.undoLastMigration();
      const tables = await dataSource.query(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'migrations'`,
      );
      expect(tables).toEqual([]);
    } finally {
      if (dataSource.isInitialized) await dataSource.destroy();
      await database.drop();
    }
  });
});
