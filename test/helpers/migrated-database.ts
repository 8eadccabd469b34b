import type { DataSource } from 'typeorm';
import { createDataSource } from '../../src/storage/data-source.js';
import { createTestDatabase } from './test-database.js';

/** A fresh database with every migration applied, for store tests; `close` drops it. */
export async function migratedDatabase(): Promise<{ dataSource: DataSource; close(): Promise<void> }> {
  const database = await createTestDatabase();
  const dataSource = createDataSource(database.url);
  await dataSource.initialize();
  await dataSource.runMigrations();
  return {
    dataSource,
    async close() {
      await dataSource.destroy();
      await database.drop();
    },
  };
}

/** A distinct lower-case address per label, for readable fixtures. */
export function address(label: number): string {
  return '0x' + label.toString(16).padStart(2, '0').repeat(20);
}

/** An account row as registration leaves it (the box key is any 44-character base64 text). */
export async function insertAccount(
  dataSource: DataSource,
  account: string,
  role: string,
  boxPublicKey = 'A'.repeat(43) + '=',
): Promise<void> {
  await dataSource.query(
    `INSERT INTO account (address, role, display_name, box_public_key, registration_issued_at, registration_signature)
     VALUES ($1, $2, $3, $4, now(), '0x')`,
    [account, role, `${role} ${account.slice(2, 6)}`, boxPublicKey],
  );
}
