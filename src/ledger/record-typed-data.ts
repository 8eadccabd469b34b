import canonicalize from 'canonicalize';
import { concat, getAddress, keccak256, toUtf8Bytes, TypedDataEncoder, verifyTypedData } from 'ethers';
import { uuidToBytes16 } from './ids.js';
import type { OmnichartDomain, TypedDataField, TypedDataPayload } from './ledger-types.js';
import { EIP712_DOMAIN_TYPE } from './typed-data.js';

/*
 * What a client signs when it writes a record: nothing here goes on chain. The signature travels
 * inside the sealed envelope, so every node that adopts the version checks who wrote it, and no node
 * (or relayer) can put words in an author's mouth. Same domain as consent: name "Omnichart", version
 * "1", the chain id and the contract, so a signature is valid for one deployment only.
 */

/** `RecordVersion(address patient,bytes16 recordId,uint32 version,string resourceType,bytes32 contentHash)` */
export const RECORD_VERSION_TYPE: TypedDataField[] = [
  { name: 'patient', type: 'address' },
  { name: 'recordId', type: 'bytes16' },
  { name: 'version', type: 'uint32' },
  { name: 'resourceType', type: 'string' },
  { name: 'contentHash', type: 'bytes32' },
];

/** `BundleImport(address patient,bytes32 entriesRoot,uint32 entryCount)` */
export const BUNDLE_IMPORT_TYPE: TypedDataField[] = [
  { name: 'patient', type: 'address' },
  { name: 'entriesRoot', type: 'bytes32' },
  { name: 'entryCount', type: 'uint32' },
];

export interface RecordVersionMessage {
  /** Checksummed. */
  patient: string;
  /** bytes16 hex of the record's UUID. */
  recordId: string;
  version: number;
  resourceType: string;
  /** keccak256 of the resource's RFC 8785 canonical JSON. */
  contentHash: string;
}

export interface BundleImportMessage {
  patient: string;
  entriesRoot: string;
  entryCount: number;
}

export type RecordVersionTypedData = TypedDataPayload<'RecordVersion', RecordVersionMessage>;
export type BundleImportTypedData = TypedDataPayload<'BundleImport', BundleImportMessage>;

/** Where one signed bundle entry sits under the signed root: enough to check it without the others. */
export interface BundleEntryProof {
  entriesRoot: string;
  entryCount: number;
  index: number;
  /** Sibling hashes from the leaf up (a level's odd last node has none and is carried up). */
  proof: string[];
}

/** keccak256 of the UTF-8 RFC 8785 (JCS) serialization: what the author's signature commits to. */
export function resourceContentHash(resource: unknown): string {
  const text = canonicalize(resource);
  if (text === undefined) throw new TypeError('a resource must be JSON');
  return keccak256(toUtf8Bytes(text));
}

/** The message for one version of one record. */
export function recordVersionMessage(fields: {
  patient: string;
  recordId: string;
  version: number;
  resource: { resourceType: string };
}): RecordVersionMessage {
  return {
    patient: getAddress(fields.patient),
    recordId: uuidToBytes16(fields.recordId),
    version: fields.version,
    resourceType: fields.resource.resourceType,
    contentHash: resourceContentHash(fields.resource),
  };
}

export function recordVersionTypedData(
  domain: OmnichartDomain,
  message: RecordVersionMessage,
): RecordVersionTypedData {
  return {
    domain,
    types: { EIP712Domain: EIP712_DOMAIN_TYPE, RecordVersion: RECORD_VERSION_TYPE },
    primaryType: 'RecordVersion',
    message,
  };
}

export function bundleImportTypedData(
  domain: OmnichartDomain,
  message: BundleImportMessage,
): BundleImportTypedData {
  return {
    domain,
    types: { EIP712Domain: EIP712_DOMAIN_TYPE, BundleImport: BUNDLE_IMPORT_TYPE },
    primaryType: 'BundleImport',
    message,
  };
}

/**
 * The lower-case address that signed the typed data, or null when the signature is not one
 * (malformed, wrong length, bad `v`): the caller decides whether that is bad input or a forgery.
 */
export function typedDataSigner(
  payload: RecordVersionTypedData | BundleImportTypedData,
  signature: string,
): string | null {
  const { EIP712Domain: _domain, ...types } = payload.types as Record<string, TypedDataField[]>;
  try {
    return verifyTypedData(payload.domain, types, payload.message, signature).toLowerCase();
  } catch {
    return null;
  }
}

/** A bundle entry's leaf: the EIP-712 struct hash of its RecordVersion (binds id, version and content). */
export function recordVersionLeaf(message: RecordVersionMessage): string {
  return TypedDataEncoder.hashStruct('RecordVersion', { RecordVersion: RECORD_VERSION_TYPE }, message);
}

/**
 * Root of a binary keccak256 tree over the leaves in entry order; an odd last node is carried up.
 * Leaves are 192-byte struct encodings hashed, inner nodes 64 bytes hashed: they cannot be confused.
 */
export function entriesRoot(leaves: readonly string[]): string {
  return levels(leaves).at(-1)![0];
}

export function entryProof(leaves: readonly string[], index: number): string[] {
  const proof: string[] = [];
  let position = index;
  for (const level of levels(leaves).slice(0, -1)) {
    const sibling = position % 2 === 0 ? position + 1 : position - 1;
    if (sibling < level.length) proof.push(level[sibling]);
    position = Math.floor(position / 2);
  }
  return proof;
}

/** Recomputes the root from one leaf; null when the proof's shape does not fit the entry count. */
export function rootFromProof(
  leaf: string,
  index: number,
  entryCount: number,
  proof: readonly string[],
): string | null {
  if (!Number.isInteger(index) || index < 0 || index >= entryCount) return null;
  let hash = leaf;
  let position = index;
  let width = entryCount;
  let used = 0;
  while (width > 1) {
    const sibling = position % 2 === 0 ? position + 1 : position - 1;
    if (sibling < width) {
      const other = proof[used++];
      if (typeof other !== 'string' || !/^0x[0-9a-f]{64}$/i.test(other)) return null;
      hash = position % 2 === 0 ? hashPair(hash, other) : hashPair(other, hash);
    }
    position = Math.floor(position / 2);
    width = Math.ceil(width / 2);
  }
  return used === proof.length ? hash : null;
}

function levels(leaves: readonly string[]): string[][] {
  if (leaves.length === 0) throw new RangeError('a bundle root needs at least one entry');
  const tree = [[...leaves]];
  while (tree.at(-1)!.length > 1) {
    const level = tree.at(-1)!;
    const next: string[] = [];
    for (let i = 0; i < level.length; i += 2)
      next.push(i + 1 < level.length ? hashPair(level[i], level[i + 1]) : level[i]);
    tree.push(next);
  }
  return tree;
}

function hashPair(left: string, right: string): string {
  return keccak256(concat([left, right]));
}
