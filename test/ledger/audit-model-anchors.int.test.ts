import { hexlify, keccak256, toUtf8Bytes, type JsonRpcProvider } from 'ethers';
import { BadUserInputError } from '../../src/errors.js';
import { TransactionRevertedError } from '../../src/ledger/ledger-errors.js';
import type { Ledger } from '../../src/ledger/chain-client.js';
import { cidOf, randomAddress, randomKey } from './helpers.js';
import { chainKinds, openTestChain, type TestChain } from '../helpers/test-chains.js';

const hash = (text: string) => keccak256(toUtf8Bytes(text));

describe.each(chainKinds)('audit roots and model anchors on %s', (kind) => {
  let chain: TestChain;
  let ledger: Ledger;
  let provider: JsonRpcProvider;

  beforeAll(async () => {
    chain = await openTestChain(kind, randomKey());
    ledger = chain.ledger;
    provider = chain.provider;
  });

  afterAll(async () => {
    await chain?.close();
  });

  it('anchors roots of several patients in one tx and finds each by patient and root', async () => {
    const [alice, bob] = [randomAddress(), randomAddress()];
    const rootA = hash('alice 1..10');
    const rootB = hash('bob 1..3');
    expect(await ledger.auditRootBlock(alice, rootA)).toBeNull();
    const tx = await ledger.anchorAuditRoots([
      { patient: alice, root: rootA, firstSeq: 1, lastSeq: 10 },
      { patient: bob, root: rootB, firstSeq: 1, lastSeq: 3 },
    ]);
    expect(await ledger.auditRootBlock(alice, rootA)).toBe(tx.blockNumber);
    expect(await ledger.auditRootBlock(bob, rootB)).toBe(tx.blockNumber);
    // A root belongs to its patient; an unknown root is unknown.
    expect(await ledger.auditRootBlock(bob, rootA)).toBeNull();
    expect(await ledger.auditRootBlock(alice, hash('never anchored'))).toBeNull();
    // Upper-case hex is the same root.
    expect(await ledger.auditRootBlock(alice, '0x' + rootA.slice(2).toUpperCase())).toBe(tx.blockNumber);

    // Re-anchoring (a retried batch) keeps the first block.
    const retry = await ledger.anchorAuditRoots([{ patient: alice, root: rootA, firstSeq: 1, lastSeq: 10 }]);
    expect(retry.blockNumber).toBeGreaterThan(tx.blockNumber);
    expect(await ledger.auditRootBlock(alice, rootA)).toBe(tx.blockNumber);

    const gas = (await provider.getTransactionReceipt(tx.txHash))!.gasUsed;
    console.log(`anchorAuditRoots gas for 2 roots: ${gas}`);
    expect(gas).toBeLessThan(100_000n);
  });

  it('rejects bad roots', async () => {
    const patient = randomAddress();
    await expect(
      ledger.anchorAuditRoots([{ patient, root: '0x1234', firstSeq: 1, lastSeq: 2 }]),
    ).rejects.toBeInstanceOf(BadUserInputError);
    await expect(
      ledger.anchorAuditRoots([{ patient, root: hash('x'), firstSeq: 5, lastSeq: 2 }]),
    ).rejects.toBeInstanceOf(BadUserInputError);
    await expect(ledger.anchorAuditRoots([])).rejects.toBeInstanceOf(BadUserInputError);
    const zero = ledger.anchorAuditRoots([
      { patient, root: `0x${'00'.repeat(32)}`, firstSeq: 1, lastSeq: 1 },
    ]);
    const error = await zero.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransactionRevertedError);
    expect((error as TransactionRevertedError).reason).toBe('InvalidAuditRoot');
  });

  it('anchors a model and reads back the latest version', async () => {
    const modelId = hash('wdbc-svm');
    expect(await ledger.modelAnchor(modelId)).toBeNull();
    const v1 = { modelId, cid: await cidOf('model v1'), metricsHash: hash('{"accuracy":0.973}') };
    const tx1 = await ledger.anchorModel(v1);
    const read1 = await ledger.modelAnchor(modelId);
    expect(read1).toEqual({
      cid: v1.cid,
      metricsHash: v1.metricsHash,
      txHash: tx1.txHash,
      blockNumber: tx1.blockNumber,
    });
    expect(hexlify(read1!.cid)).toBe(hexlify(v1.cid));

    const v2 = { modelId, cid: await cidOf('model v2'), metricsHash: hash('{"accuracy":0.980}') };
    const tx2 = await ledger.anchorModel(v2);
    const read2 = await ledger.modelAnchor(modelId);
    expect(hexlify(read2!.cid)).toBe(hexlify(v2.cid));
    expect(read2!.metricsHash).toBe(v2.metricsHash);
    expect(read2!.txHash).toBe(tx2.txHash);
    expect(read2!.blockNumber).toBe(tx2.blockNumber);
    await expect(ledger.anchorModel({ ...v1, modelId: 'wdbc' })).rejects.toBeInstanceOf(BadUserInputError);
    await expect(ledger.anchorModel({ ...v1, cid: new Uint8Array() })).rejects.toBeInstanceOf(
      BadUserInputError,
    );
  });
});
