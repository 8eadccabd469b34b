import { randomUUID } from 'node:crypto';
import type { JsonRpcProvider } from 'ethers';
import { DataSource } from 'typeorm';
import { openLedger, type Ledger } from '../../src/ledger/chain-client.js';
import { openEmbeddedLedger, type EmbeddedLedger } from '../../src/ledger/embedded-chain.js';
import { silentLogger } from '../../src/logger.js';
import { relayerNonceLock } from '../../src/storage/relayer-nonce-lock.js';
import { createTestDatabase, stopTestDatabaseServer } from '../helpers/test-database.js';
import { cidOf, localProvider, randomAddress, randomKey, tempDir } from './helpers.js';

describe('one relayer key shared by two replicas', () => {
  const relayerKey = randomKey();
  let chain: EmbeddedLedger;
  let provider: JsonRpcProvider;
  let remove: () => Promise<void>;
  let database: { url: string; drop: () => Promise<void> };
  const dataSources: DataSource[] = [];
  const replicas: Ledger[] = [];

  beforeAll(async () => {
    let dataDir: string;
    ({ dir: dataDir, remove } = await tempDir('relayer-nonce'));
    chain = await openEmbeddedLedger({ dataDir, relayerKey, logger: silentLogger });
    provider = localProvider(chain.chain.anvil.rpcUrl);
    database = await createTestDatabase('omnichart_replicas_');
    for (let i = 0; i < 2; i += 1) {
      // Each replica has its own connection pool to the one database, as separate processes do.
      const dataSource = await new DataSource({ type: 'postgres', url: database.url }).initialize();
      dataSources.push(dataSource);
      replicas.push(
        await openLedger({
          rpcUrl: chain.chain.anvil.rpcUrl,
          relayerKey,
          contractAddress: chain.contractAddress,
          nonceLock: relayerNonceLock(dataSource),
          logger: silentLogger,
        }),
      );
    }
  });

  afterAll(async () => {
    for (const replica of replicas) await replica.close();
    for (const dataSource of dataSources) await dataSource.destroy();
    provider?.destroy();
    await chain?.close();
    await database?.drop();
    await stopTestDatabaseServer();
    await remove?.();
  });

  it('sends concurrent transactions from both without a nonce collision', async () => {
    const start = await provider.getTransactionCount(chain.relayerAddress, 'latest');
    const sends = await Promise.allSettled(
      Array.from({ length: 16 }, async (_, i) =>
        replicas[i % 2].anchorRecords([
          { patient: randomAddress(), recordId: randomUUID(), version: 1, cid: await cidOf(`nonce ${i}`) },
        ]),
      ),
    );
    const failed = sends
      .filter((s) => s.status === 'rejected')
      .map((s) => String((s as PromiseRejectedResult).reason));
    expect(failed).toEqual([]);
    const hashes = sends.map((s) => (s as PromiseFulfilledResult<{ txHash: string }>).value.txHash);
    const nonces = await Promise.all(
      hashes.map(async (hash) => (await provider.getTransaction(hash))!.nonce),
    );
    // Sixteen mined transactions with exactly the sixteen nonces after the starting count.
    expect([...nonces].sort((a, b) => a - b)).toEqual(Array.from({ length: 16 }, (_, i) => start + i));
    expect(await provider.getTransactionCount(chain.relayerAddress, 'latest')).toBe(start + 16);
  });
});
