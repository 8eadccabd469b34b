import type { Resource } from '@medplum/fhirtypes';
import type { BundleEntryProof } from '../ledger/record-typed-data.js';
import { openRecord } from '../storage/envelope.js';

/** What is sealed inside an envelope: the resource plus the identity it was stored under. */
export interface SealedPayload {
  recordId: string;
  version: number;
  patient: string;
  resource: Resource;
  /** The CID of the version this one replaces; absent in version 1. */
  previousCid?: string;
  /** Who wrote it, and the source's identity of the resource: what another node needs to index it. */
  author?: string;
  sourceKey?: string;
  fullUrl?: string;
  /** The author's EIP-712 signature (RecordVersion, or BundleImport with `bundleProof`), when they signed. */
  authorSignature?: string;
  bundleProof?: BundleEntryProof;
  /** When the version was written (ISO 8601): a rebuilt or adopted copy keeps the same times. */
  writtenAt?: string;
}

/**
 * Opens an envelope with a box secret key and parses what was sealed in it.
 * @throws IntegrityError when the envelope does not authenticate or is not wrapped for the key
 */
export function openPayload(envelope: Uint8Array, boxSecretKey: Uint8Array): SealedPayload {
  const plaintext = openRecord({ envelope, boxSecretKey });
  return JSON.parse(Buffer.from(plaintext).toString('utf8')) as SealedPayload;
}
