import { getBytes, hexlify, isHexString, zeroPadValue } from 'ethers';
import { BadUserInputError } from '../errors.js';
import { omnichartInterface } from './contract-artifact.js';
import type { ContractAccess } from './contract-access.js';
import { txResult } from './consent.js';
import { toAddress } from './ids.js';
import type { AnchorModelParameters, AuditRootItem, ModelAnchorInfo, TxResult } from './ledger-types.js';

const modelAnchored = omnichartInterface.getEvent('ModelAnchored')!;

/** All roots in one transaction. */
export async function anchorAuditRoots(access: ContractAccess, roots: AuditRootItem[]): Promise<TxResult> {
  if (roots.length === 0) throw new BadUserInputError('anchorAuditRoots needs at least one root');
  const tuples = roots.map((r, i) => {
    const firstSeq = sequence(r.firstSeq, `roots[${i}].firstSeq`);
    const lastSeq = sequence(r.lastSeq, `roots[${i}].lastSeq`);
    if (firstSeq > lastSeq) throw new BadUserInputError(`roots[${i}]: firstSeq is after lastSeq`);
    return [
      toAddress(r.patient, `roots[${i}].patient`),
      toBytes32Hex(r.root, `roots[${i}].root`),
      firstSeq,
      lastSeq,
    ];
  });
  return txResult(await access.write('anchorAuditRoots', [tuples]));
}

export async function auditRootBlock(
  access: ContractAccess,
  patient: string,
  root: string,
): Promise<number | null> {
  const [block] = await access.read(
    'auditRootBlock',
    [toAddress(patient, 'patient'), toBytes32Hex(root, 'root')],
    'reading an audit root',
  );
  return block === 0n ? null : Number(block);
}

export async function anchorModel(
  access: ContractAccess,
  parameters: AnchorModelParameters,
): Promise<TxResult> {
  if (parameters.cid.length === 0) throw new BadUserInputError('cid is empty');
  const receipt = await access.write('anchorModel', [
    toBytes32Hex(parameters.modelId, 'modelId'),
    hexlify(parameters.cid),
    toBytes32Hex(parameters.metricsHash, 'metricsHash'),
  ]);
  return txResult(receipt);
}

/** The stored anchor, with the tx found among that block's ModelAnchored logs. */
export async function modelAnchor(access: ContractAccess, modelId: string): Promise<ModelAnchorInfo | null> {
  const id = toBytes32Hex(modelId, 'modelId');
  const [cid, metricsHash, block] = await access.read('modelAnchor', [id], 'reading a model anchor');
  if (block === 0n) return null;
  const blockNumber = Number(block);
  const logs = await access.rpc('reading a model anchor', () =>
    access.provider.getLogs({
      address: access.contractAddress,
      topics: [modelAnchored.topicHash, zeroPadValue(id, 32)],
      fromBlock: blockNumber,
      toBlock: blockNumber,
    }),
  );
  // Two anchors of one model in one block: the later log is the stored one.
  const last = logs.at(-1);
  if (!last) throw new Error(`model ${id} is anchored at block ${blockNumber} but no event was found there`);
  return { cid: getBytes(cid), metricsHash, txHash: last.transactionHash, blockNumber };
}

/** 0x + 64 hex digits, lower-cased, or BAD_USER_INPUT. */
export function toBytes32Hex(value: string, field: string): string {
  if (typeof value !== 'string' || !isHexString(value, 32)) {
    throw new BadUserInputError(`${field} must be 0x-prefixed 32-byte hex, got ${String(value)}`);
  }
  return value.toLowerCase();
}

function sequence(value: number, field: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new BadUserInputError(`${field} must be a non-negative integer, got ${value}`);
  }
  return value;
}
