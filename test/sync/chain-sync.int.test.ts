import type { DataSource } from 'typeorm';
import type { AccountRegisteredEvent, LedgerEvent } from '../../src/ledger/chain-events.js';
import { openEmbeddedLedger, type EmbeddedLedger } from '../../src/ledger/embedded-chain.js';
import { createDataSource } from '../../src/storage/data-source.js';
import { SyncQuarantineEntity } from '../../src/storage/entities/index.js';
import { ChainCursorStore } from '../../src/storage/chain-cursor-store.js';
import { SyncQuarantineStore } from '../../src/storage/sync-quarantine-store.js';
import { ChainSync } from '../../src/sync/chain-sync.js';
import { createTestDatabase, stopTestDatabaseServer } from '../helpers/test-database.js';
import { recordingLogger } from '../helpers/recording-logger.js';
import { newWallet, randomKey, signedRegistration, tempDir, waitFor } from '../ledger/helpers.js';

describe('chain sync: a bad event is quarantined, later blocks still apply', () => {
  let ledger: EmbeddedLedger;
  let dataSource: DataSource;
  let cleanup: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    const temp = await tempDir('chain-sync');
    ledger = await openEmbeddedLedger({
      dataDir: temp.dir,
      relayerKey: randomKey(),
      logger: recordingLogger(),
    });
    const database = await createTestDatabase();
    dataSource = createDataSource(database.url);
    await dataSource.initialize();
    await dataSource.runMigrations();
    cleanup = [() => dataSource.destroy(), database.drop, () => ledger.close(), temp.remove];
  });

  afterAll(async () => {
    for (const step of cleanup) await step().catch(() => undefined);
    await stopTestDatabaseServer();
  });

  const keyOf = (n: number) => new Uint8Array(32).fill(n);
  const isKeyOf = (event: LedgerEvent, account: string): event is AccountRegisteredEvent =>
    event.type === 'AccountRegistered' && event.account.toLowerCase() === account.toLowerCase();

  it('quarantines a throwing handler’s event and a batch breaker, applies the rest, retries with backoff', async () => {
    const wallets = [1, 2, 3, 4, 5].map(() => newWallet());
    const [badEvent, good1, badInBatch, good2, later] = wallets.map((wallet) => wallet.address);
    const register = async (account: string, boxPublicKey: Uint8Array) => {
      const wallet = wallets.find((w) => w.address === account)!;
      await ledger.registerAccount(await signedRegistration(wallet, ledger, { boxPublicKey }));
    };
    // One range holds four events; the fifth comes after the indexer has moved on.
    for (const [i, account] of [badEvent, good1, badInBatch, good2].entries())
      await register(account, keyOf(i + 1));

    const poisoned = new Set([badEvent.toLowerCase(), badInBatch.toLowerCase()]);
    const applied: string[] = [];
    const batchedAlone: string[] = [];
    const retriedKeys: Uint8Array[] = [];
    const logger = recordingLogger();
    const sync = new ChainSync({
      cursors: new ChainCursorStore(dataSource),
      quarantine: new SyncQuarantineStore(dataSource),
      ledger,
      pollIntervalMs: 50,
      logger,
      maxLagSeconds: 30,
      retryDelayMs: 150,
      maxRetryDelayMs: 400,
    });
    sync.on(async (event) => {
      if (event.type !== 'AccountRegistered') return;
      if (isKeyOf(event, badEvent)) {
        retriedKeys.push(event.boxPublicKey);
        if (poisoned.has(badEvent.toLowerCase())) throw new Error('handler refuses this event');
      }
      applied.push(event.account.toLowerCase());
    });
    sync.onBatch(async (events) => {
      const accounts = events.filter((e) => e.type === 'AccountRegistered');
      if (accounts.some((e) => isKeyOf(e, badInBatch) && poisoned.has(badInBatch.toLowerCase())))
        throw new Error('batch handler refuses a batch with this event');
      if (events.length === 1 && accounts.length === 1) batchedAlone.push(accounts[0].account.toLowerCase());
    });
    await sync.start();
    try {
      await register(later, keyOf(5));
      await waitFor(() => applied.includes(later.toLowerCase()), 10_000);
      // The cursor row is written after the handlers ran, so wait for it rather than race it.
      const head = (await ledger.latestBlock()).number;
      const cursorBlock = async () =>
        ((await dataSource.query(`SELECT block_number FROM chain_cursor`)) as { block_number: number }[])[0]
          ?.block_number;
      await waitFor(async () => (await cursorBlock()) === head, 10_000);
      expect(await cursorBlock()).toBe(head);

      // The good events of the broken batch were applied one at a time; the breaker was not.
      expect(batchedAlone).toEqual(expect.arrayContaining([good1.toLowerCase(), good2.toLowerCase()]));
      expect(batchedAlone).not.toContain(badInBatch.toLowerCase());
      const rows = await dataSource
        .getRepository(SyncQuarantineEntity)
        .find({ order: { blockNumber: 'ASC' } });
      expect(rows.map((r) => r.eventType)).toEqual(['AccountRegistered', 'AccountRegistered']);
      expect(rows.map((r) => (r.event as { account: string }).account.toLowerCase())).toEqual([
        badEvent.toLowerCase(),
        badInBatch.toLowerCase(),
      ]);
      expect(rows[0].error).toBe('handler refuses this event');
      expect(rows[1].error).toBe('batch handler refuses a batch with this event');
      expect(rows[0].event).toMatchObject({
        boxPublicKey: { $bytes: Buffer.from(keyOf(1)).toString('base64') },
      });
      await expect(sync.quarantinedCount()).resolves.toBe(2);

      // Retried with backoff while it keeps failing, warned about only once.
      await waitFor(async () => {
        const row = await dataSource
          .getRepository(SyncQuarantineEntity)
          .findOneByOrFail({ eventKey: rows[0].eventKey });
        return row.attempts >= 3;
      }, 10_000);
      expect(logger.entries.filter((e) => e.message.startsWith('chain event quarantined'))).toHaveLength(2);
      // The retried event is the one that failed, bytes and all.
      expect(retriedKeys.length).toBeGreaterThanOrEqual(3);
      for (const key of retriedKeys) expect(key).toEqual(keyOf(1));

      // Once the handlers accept them, the events apply and leave quarantine.
      poisoned.clear();
      await waitFor(async () => (await sync.quarantinedCount()) === 0, 10_000);
      expect(applied).toContain(badEvent.toLowerCase());
      expect(batchedAlone).toContain(badInBatch.toLowerCase());
      expect(
        logger.entries.filter((e) => e.message.startsWith('quarantined chain event applied')),
      ).toHaveLength(2);
    } finally {
      await sync.stop();
    }
  });

  it('reports its lag, and refuses a stale cache once the chain cannot be read', async () => {
    const sync = new ChainSync({
      cursors: new ChainCursorStore(dataSource),
      quarantine: new SyncQuarantineStore(dataSource),
      ledger,
      pollIntervalMs: 50,
      logger: recordingLogger(),
      maxLagSeconds: 1,
    });
    await sync.start();
    try {
      await sync.ensureCurrent();
      const head = (await ledger.latestBlock()).number;
      expect(sync.lag()).toMatchObject({ cursor: head, head, lagBlocks: 0 });
      expect(sync.lag().lagSeconds).toBeLessThan(1);
      expect(sync.lag(head + 7).lagBlocks).toBe(7);

      await ledger.chain.stop();
      // Within the bound, the last catch-up still counts.
      await expect(sync.ensureCurrent()).resolves.toBeUndefined();
      await new Promise((resolve) => setTimeout(resolve, 1200));
      await expect(sync.ensureCurrent()).rejects.toMatchObject({
        code: 'SERVICE_UNAVAILABLE',
        message: expect.stringMatching(/over the 1 s bound/),
      });
      expect(sync.lag().lagSeconds).toBeGreaterThan(1);

      await ledger.chain.restart();
      await expect(sync.ensureCurrent()).resolves.toBeUndefined();
      expect(sync.lag().lagSeconds).toBeLessThan(1);
    } finally {
      await sync.stop();
    }
  });
});
