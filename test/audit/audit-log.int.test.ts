import { AuditLog } from '../../src/audit/audit-log.js';
import { GENESIS_HASH, auditEntryHash } from '../../src/audit/audit-entry-hash.js';
import { AuditStore } from '../../src/storage/audit-store.js';
import { createDataSource } from '../../src/storage/data-source.js';
import { AuditEntryEntity } from '../../src/storage/entities/index.js';
import { createTestDatabase, stopTestDatabaseServer } from '../helpers/test-database.js';

describe('the audit log hash chain', () => {
  afterAll(() => stopTestDatabaseServer());

  it('stays one unbroken chain under concurrent appends from two writers', async () => {
    const database = await createTestDatabase();
    const dataSource = createDataSource(database.url);
    await dataSource.initialize();
    try {
      await dataSource.runMigrations();
      const [first, second] = [
        new AuditLog(new AuditStore(dataSource)),
        new AuditLog(new AuditStore(dataSource)),
      ];
      const patient = '0x' + '1'.repeat(40);
      await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          (i % 2 ? first : second).append({
            patient,
            actor: '0x' + '2'.repeat(40),
            action: 'read',
            outcome: 'ALLOWED',
            purpose: `n${i}`,
          }),
        ),
      );
      const entries = await dataSource
        .getRepository(AuditEntryEntity)
        .find({ where: { patient }, order: { seq: 'ASC' } });
      expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
      let previous = GENESIS_HASH;
      for (const entry of entries) {
        expect(entry.prevHash).toBe(previous);
        expect(entry.hash).toBe(auditEntryHash({ ...entry, at: entry.at.toISOString() }));
        previous = entry.hash;
      }
      expect(new Set(entries.map((e) => e.purpose)).size).toBe(60);
    } finally {
      await dataSource.destroy();
      await database.drop();
    }
  });

  it('writes the entries that arrive together in one INSERT, still one chain in arrival order', async () => {
    const database = await createTestDatabase();
    const dataSource = createDataSource(database.url);
    await dataSource.initialize();
    try {
      await dataSource.runMigrations();
      const store = new AuditStore(dataSource);
      let inserts = 0;
      const insertEntries = store.insertEntries.bind(store);
      store.insertEntries = (rows) => {
        inserts += 1;
        return insertEntries(rows);
      };
      const log = new AuditLog(store);
      const patient = '0x' + '3'.repeat(40);
      const appended = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          log.append({
            patient,
            actor: '0x' + '4'.repeat(40),
            action: 'read',
            outcome: 'ALLOWED',
            purpose: `n${i}`,
          }),
        ),
      );
      // The first INSERT holds the first entry; the 199 that came while it ran share the next.
      expect(inserts).toBe(2);
      expect(appended.map((e) => e.purpose)).toEqual(Array.from({ length: 200 }, (_, i) => `n${i}`));
      const entries = await dataSource
        .getRepository(AuditEntryEntity)
        .find({ where: { patient }, order: { seq: 'ASC' } });
      expect(entries.map((e) => [e.seq, e.purpose])).toEqual(appended.map((e, i) => [i + 1, `n${i}`]));
      let previous = GENESIS_HASH;
      for (const entry of entries) {
        expect(entry.prevHash).toBe(previous);
        expect(entry.hash).toBe(auditEntryHash({ ...entry, at: entry.at.toISOString() }));
        previous = entry.hash;
      }
      // A failed INSERT fails every access in it and leaves nothing half-written; the log goes on after.
      store.insertEntries = () => Promise.reject(new Error('database gone'));
      const failed = await Promise.allSettled(
        [1, 2, 3].map(() =>
          log.append({ patient, actor: '0x' + '4'.repeat(40), action: 'read', outcome: 'ALLOWED' }),
        ),
      );
      expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
      store.insertEntries = insertEntries;
      expect(
        (await log.append({ patient, actor: '0x' + '4'.repeat(40), action: 'read', outcome: 'ALLOWED' })).seq,
      ).toBe(201);
    } finally {
      await dataSource.destroy();
      await database.drop();
    }
  });
});
