import type { CID } from 'multiformats/cid';

/**
 * Where an export reads IPFS blocks from: a trustless gateway or a stopped node's blockstore. Neither
 * is trusted: every block is re-hashed against its CID by the reader (verified-file.ts).
 */
export interface BlockSource {
  /** The raw bytes of one block; NotFoundError when the source does not hold it. */
  block(cid: CID, options?: { signal?: AbortSignal }): Promise<Uint8Array>;
  close(): Promise<void>;
}
