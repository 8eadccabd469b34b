import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { hexlify, type JsonRpcProvider } from 'ethers';
import { BadUserInputError, ServiceUnavailableError } from '../../src/errors.js';
import { openLedger } from '../../src/ledger/chain-client.js';
import type { Ledger } from '../../src/ledger/chain-client.js';
import { openEmbeddedLedger, type EmbeddedLedger } from '../../src/ledger/embedded-chain.js';
import { TransactionRevertedError } from '../../src/ledger/ledger-errors.js';
import { silentLogger } from '../../src/logger.js';
import {
  cidOf,
  freePort,
  newWallet,
  randomAddress,
  randomKey,
  signedRegistration,
  localProvider,
  tempDir,
} from './helpers.js';
import { chainKinds, HARDHAT_CHAIN_ID, openTestChain, type TestChain } from '../helpers/test-chains.js';

describe.each(chainKinds)('ledger on %s', (kind) => {
  let chain: TestChain;
  let ledger: Ledger;
  let provider: JsonRpcProvider;

  beforeAll(async () => {
    chain = await openTestChain(kind, randomKey());
    ({ ledger, provider } = chain);
  });

  afterAll(async () => {
    await chain?.close();
  });

  it('deploys the contract on the chain it reports', async () => {
    expect(ledger.chainId).toBe(kind === 'anvil' ? 31337n : HARDHAT_CHAIN_ID);
    expect(BigInt((await provider.getNetwork()).chainId)).toBe(ledger.chainId);
    expect((await provider.getCode(ledger.contractAddress)).length).toBeGreaterThan(100);
    expect(await ledger.isReachable()).toBe(true);
  });

  it("registers an account's signed registration and a node's own key, and reads them back", async () => {
    const wallet = newWallet();
    const key = new Uint8Array(32).map((_, i) => i + 1);
    expect(await ledger.accountKey(wallet.address)).toBeNull();
    const tx = await ledger.registerAccount(await signedRegistration(wallet, ledger, { boxPublicKey: key }));
    expect(await ledger.transactionBlock(tx.txHash)).toBe(tx.blockNumber);
    expect(hexlify((await ledger.accountKey(wallet.address))!)).toBe(hexlify(key));
    await expect(
      ledger.registerAccount({
        ...(await signedRegistration(wallet, ledger)),
        boxPublicKey: new Uint8Array(31),
      }),
    ).rejects.toBeInstanceOf(BadUserInputError);

    const nodeKey = new Uint8Array(32).fill(3);
    await ledger.registerNodeKey(nodeKey);
    expect(hexlify((await ledger.accountKey(ledger.relayerAddress))!)).toBe(hexlify(nodeKey));
  });

  it('anchors a batch of 3 records in one transaction with one event each', async () => {
    const patient = randomAddress();
    const other = randomAddress();
    const items = [
      { patient, recordId: randomUUID(), version: 1, cid: await cidOf('a') },
      { patient, recordId: randomUUID(), version: 2, cid: await cidOf('b') },
      { patient: other, recordId: randomUUID(), version: 7, cid: await cidOf('c') },
    ];
    const signed: string[] = [];
    const tx = await ledger.anchorRecords(items, { onSigned: async (hash) => void signed.push(hash) });
    expect(signed).toEqual([tx.txHash]);

    const anchors = await ledger.anchorsInTransaction(tx.txHash);
    expect(anchors).toHaveLength(3);
    anchors.forEach((anchor, i) => {
      expect(anchor.patient).toBe(items[i].patient.toLowerCase());
      expect(anchor.recordId).toBe(items[i].recordId);
      expect(anchor.version).toBe(items[i].version);
      expect(hexlify(anchor.cid)).toBe(hexlify(items[i].cid));
      expect(anchor.txHash).toBe(tx.txHash);
      expect(anchor.blockNumber).toBe(tx.blockNumber);
    });
    expect(new Set(anchors.map((a) => a.logIndex)).size).toBe(3);

    const forPatient = await ledger.anchorsForPatient(patient);
    expect(forPatient.map((a) => a.recordId)).toEqual([items[0].recordId, items[1].recordId]);

    const receipt = await provider.getTransactionReceipt(tx.txHash);
    console.log(`anchorRecords gas for 3 records: ${receipt!.gasUsed}`);
    expect(receipt!.gasUsed).toBeLessThan(120_000n);
  });

  it('costs a few thousand gas per additional record (event only, no storage)', async () => {
    const batch = async (n: number) => {
      const items = await Promise.all(
        Array.from({ length: n }, async (_, i) => ({
          patient: randomAddress(),
          recordId: randomUUID(),
          version: 1,
          cid: await cidOf(`record ${n} ${i}`),
        })),
      );
      const tx = await ledger.anchorRecords(items);
      return (await provider.getTransactionReceipt(tx.txHash))!.gasUsed;
    };
    const one = await batch(1);
    const hundred = await batch(100);
    const perRecord = Number(hundred - one) / 99;
    console.log(
      `anchorRecords gas: 1 record ${one}, 100 records ${hundred}, marginal ${perRecord.toFixed(0)}/record`,
    );
    expect(perRecord).toBeGreaterThan(2_000);
    expect(perRecord).toBeLessThan(12_000);
  });

  it('rejects anchoring by an account that is not a relayer', async () => {
    const outsiderKey = randomKey();
    const outsider = await openLedger({
      rpcUrl: chain.rpcUrl,
      relayerKey: outsiderKey,
      contractAddress: ledger.contractAddress,
      logger: silentLogger,
    });
    try {
      await chain.fund(outsider.relayerAddress, 10n ** 18n);
      const item = { patient: randomAddress(), recordId: randomUUID(), version: 1, cid: await cidOf('x') };
      const error = await outsider.anchorRecords([item]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TransactionRevertedError);
      expect((error as TransactionRevertedError).reason).toBe('NotRelayer');
      expect(await ledger.anchorsForPatient(item.patient)).toEqual([]);
    } finally {
      await outsider.close();
    }
  });
});

describe('the embedded chain under the ledger', () => {
  let dataDir: string;
  let remove: () => Promise<void>;
  let ledger: EmbeddedLedger;
  let provider: JsonRpcProvider;

  beforeAll(async () => {
    ({ dir: dataDir, remove } = await tempDir('ledger'));
    ledger = await openEmbeddedLedger({ dataDir, relayerKey: randomKey(), logger: silentLogger });
    provider = localProvider(ledger.chain.anvil.rpcUrl);
  });

  afterAll(async () => {
    provider?.destroy();
    await ledger?.close();
    await remove?.();
  });

  it('records the deployment in the data dir', async () => {
    expect(ledger.chainId).toBe(31337n);
    const deployment = JSON.parse(await readFile(path.join(dataDir, 'chain', 'deployment.json'), 'utf8'));
    expect(deployment.address).toBe(ledger.contractAddress);
    expect(deployment.chainId).toBe('31337');
  });

  it('reports SERVICE_UNAVAILABLE while the chain is down and anchors with the next nonce after', async () => {
    const patient = randomAddress();
    const before = await ledger.anchorRecords([
      { patient, recordId: randomUUID(), version: 1, cid: await cidOf('1') },
    ]);
    const nonceBefore = (await provider.getTransaction(before.txHash))!.nonce;

    await ledger.chain.stop();
    expect(await ledger.isReachable()).toBe(false);
    const late = { patient, recordId: randomUUID(), version: 1, cid: await cidOf('added while down') };
    const error = await ledger.anchorRecords([late]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServiceUnavailableError);
    expect((error as ServiceUnavailableError).code).toBe('SERVICE_UNAVAILABLE');

    await ledger.chain.restart();
    expect(await ledger.isReachable()).toBe(true);
    const after = await ledger.anchorRecords([late]);
    expect((await provider.getTransaction(after.txHash))!.nonce).toBe(nonceBefore + 1);
    const anchors = await ledger.anchorsForPatient(patient);
    expect(anchors.map((a) => a.recordId)).toEqual([
      (await ledger.anchorsInTransaction(before.txHash))[0].recordId,
      late.recordId,
    ]);
  });
});

describe('ledger against an unreachable RPC', () => {
  it('fails to open with SERVICE_UNAVAILABLE', async () => {
    const error = await openLedger({
      rpcUrl: `http://127.0.0.1:${await freePort()}`,
      relayerKey: randomKey(),
      logger: silentLogger,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServiceUnavailableError);
    expect((error as ServiceUnavailableError).code).toBe('SERVICE_UNAVAILABLE');
  });
});
