import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { AnchorOutboxStore } from '../../src/storage/anchor-outbox-store.js';
import { UnanchoredWritesError } from '../../src/storage/cache-reset.js';
import { CacheStateStore } from '../../src/storage/cache-state-store.js';
import { ChainCursorStore } from '../../src/storage/chain-cursor-store.js';
import { HeldVersionStore } from '../../src/storage/held-version-store.js';
import { TrainingJobStore } from '../../src/storage/training-job-store.js';
import { isEmptyCache } from '../../src/sync/rebuild.js';
import { address, insertAccount, migratedDatabase } from '../helpers/migrated-database.js';
import { stopTestDatabaseServer } from '../helpers/test-database.js';

const patient = address(0x11);

describe('the stores of anchoring, sync, rebuild and training', () => {
  let db: Awaited<ReturnType<typeof migratedDatabase>>;
  let dataSource: DataSource;

  beforeAll(async () => {
    db = await migratedDatabase();
    dataSource = db.dataSource;
  });

  afterAll(async () => {
    await db.close();
    await stopTestDatabaseServer();
  });

  const insertVersion = (recordId: string, version: number) =>
    dataSource.query(
      `INSERT INTO record_version (record_id, version, cid, envelope_bytes, author) VALUES ($1, $2, $3, 100, $4)`,
      [recordId, version, `cid-${recordId.slice(0, 8)}-${version}`, patient],
    );
  const insertOutbox = (recordId: string, version: number) =>
    dataSource.query(`INSERT INTO anchor_outbox (record_id, version, patient, cid) VALUES ($1, $2, $3, $4)`, [
      recordId,
      version,
      patient,
      `cid-${recordId.slice(0, 8)}-${version}`,
    ]);

  it('is an empty cache until events were applied (a cursor) or any cached row is held', async () => {
    const cache = new CacheStateStore(dataSource);
    const cursors = new ChainCursorStore(dataSource);
    expect(await cache.holdsAnyState()).toBe(false);
    expect(await cursors.get('contract-events')).toBeNull();
    expect(await isEmptyCache({ cursors, cache })).toBe(true);
    await cursors.set('contract-events', 12);
    await cursors.set('contract-events', 15);
    expect(await cursors.get('contract-events')).toBe(15);
    expect(await isEmptyCache({ cursors, cache })).toBe(false);
    await cursors.delete('contract-events');
    expect(await cursors.get('contract-events')).toBeNull();
    await insertAccount(dataSource, patient, 'PATIENT');
    expect(await cache.holdsAnyState()).toBe(true);
    expect(await isEmptyCache({ cursors, cache })).toBe(false);
  });

  it('moves outbox rows through signed, failed and anchored; anchoring marks versions and deletes rows together', async () => {
    const outbox = new AnchorOutboxStore(dataSource);
    const [a, b] = [randomUUID(), randomUUID()];
    await insertVersion(a, 1);
    await insertVersion(b, 1);
    await insertOutbox(a, 1);
    await insertOutbox(b, 1);
    expect(await outbox.count()).toBe(2);
    const waiting = await outbox.waiting(10);
    expect(waiting.map((row) => row.recordId)).toEqual([a, b]);
    const ids = waiting.map((row) => row.id);

    await outbox.setTransaction(ids, '0x' + '1'.repeat(64));
    expect(await outbox.waiting(10)).toEqual([]);
    expect((await outbox.inFlight()).map((row) => row.txHash)).toEqual([
      '0x' + '1'.repeat(64),
      '0x' + '1'.repeat(64),
    ]);
    await outbox.recordFailure(ids, 'x'.repeat(600));
    await outbox.setTransaction(ids, null);
    const retried = await outbox.waiting(1);
    expect(retried).toHaveLength(1);
    expect(retried[0]).toMatchObject({ attempts: 1, txHash: null });
    expect(retried[0].lastError).toHaveLength(500);

    // The cache cannot be cleared while versions wait for their anchor: they exist nowhere else.
    await expect(new CacheStateStore(dataSource).clear()).rejects.toThrow(UnanchoredWritesError);

    await outbox.markAnchored(await outbox.waiting(10), '0x' + '2'.repeat(64), 33);
    expect(await outbox.count()).toBe(0);
    const anchored: { anchor_tx: string; anchor_block: number }[] = await dataSource.query(
      `SELECT anchor_tx, anchor_block FROM record_version WHERE record_id = ANY($1::uuid[]) ORDER BY record_id`,
      [[a, b]],
    );
    expect(anchored).toEqual([
      { anchor_tx: '0x' + '2'.repeat(64), anchor_block: 33 },
      { anchor_tx: '0x' + '2'.repeat(64), anchor_block: 33 },
    ]);
  });

  it('names the versions the cache holds, and counts indexed and quarantined ones', async () => {
    const held = new HeldVersionStore(dataSource);
    const [a, b] = [randomUUID(), randomUUID()];
    await insertVersion(a, 1);
    await insertVersion(a, 2);
    const answer = await held.heldOf([
      { recordId: a, version: 1 },
      { recordId: a, version: 2 },
      { recordId: a, version: 3 },
      { recordId: b, version: 1 },
    ]);
    expect([...answer].sort()).toEqual([`${a}:1`, `${a}:2`].sort());
    expect(await held.heldOf([])).toEqual(new Set());
    expect(await new CacheStateStore(dataSource).recordVersionCounts()).toEqual({
      indexed: 4,
      quarantined: 0,
    });
  });

  it('keeps the training queue: unfinished jobs oldest first, one per dataset and algorithm', async () => {
    const jobs = new TrainingJobStore(dataSource);
    const job = (id: string, algorithm: string) => ({
      id,
      dataset: 'pima',
      algorithm,
      state: 'QUEUED' as const,
      foldsDone: 0,
      foldsTotal: null,
      requestedBy: patient,
      startedAt: null,
      finishedAt: null,
      error: null,
      modelId: null,
    });
    const [first, second] = [randomUUID(), randomUUID()];
    await jobs.add(job(first, 'gnb'));
    await jobs.add(job(second, 'logreg'));
    expect((await jobs.unfinishedFor('pima', 'gnb'))?.id).toBe(first);
    await jobs.update(first, { state: 'SUCCEEDED', modelId: 'pima-gnb', finishedAt: new Date() });
    expect(await jobs.unfinishedFor('pima', 'gnb')).toBeNull();
    await jobs.update(second, { state: 'RUNNING', foldsDone: 2, foldsTotal: 5 });
    expect((await jobs.unfinished()).map((j) => [j.id, j.state])).toEqual([[second, 'RUNNING']]);
    expect(await jobs.get(first)).toMatchObject({ state: 'SUCCEEDED', modelId: 'pima-gnb' });
    expect(await jobs.get(randomUUID())).toBeNull();
  });
});
