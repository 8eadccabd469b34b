import type { CID } from 'multiformats/cid';
import type { CarOptions } from './dag-car.js';

/** All the rest of the node knows about IPFS: content-addressed bytes in, bytes out. */
export interface ContentStore {
  /** Adds bytes as a UnixFS file with Kubo's classic defaults (CIDv0, 256 KiB chunks) and returns its CID. */
  put(bytes: Uint8Array, options?: { signal?: AbortSignal }): Promise<CID>;
  /**
   * Adds several files at once, as `put` would one by one (same CIDs, in order), with the cost of
   * making them durable paid once for the whole set: when it resolves, every block survives a crash.
   */
  putMany(items: Uint8Array[], options?: { signal?: AbortSignal }): Promise<CID[]>;
  /** Reads a file back; throws NotFoundError when no block is held for it. */
  get(cid: CID, options?: { signal?: AbortSignal }): Promise<Uint8Array>;
  /** Reads several files, as `get` would one by one (in order), looking their roots up in one batch. */
  getMany(cids: readonly CID[], options?: { signal?: AbortSignal }): Promise<Uint8Array[]>;
  has(cid: CID): Promise<boolean>;
  /**
   * The CID `put` would answer for these bytes, computed without storing anything: how content
   * fetched from a peer, a gateway or the store itself is checked against the CID it was asked for.
   */
  cidOf(bytes: Uint8Array): Promise<CID>;
  /** One raw block as stored (checked against its CID), or null when not held: for trustless-gateway reads. */
  block(cid: CID): Promise<Uint8Array | null>;
  /**
   * A CARv1 of the DAG under `root` from local blocks only, in depth-first order; null when the root
   * block is not held. A block missing below the root ends the stream with NotFoundError.
   */
  car(root: CID, options: CarOptions): Promise<AsyncIterable<Uint8Array> | null>;
  /** The libp2p peer id (kept in the data dir), or null for a store opened without one. */
  readonly peerId: string | null;
  /** Where libp2p listens (with the ports it was given); empty while offline. */
  listenAddresses(): string[];
  /** Every raw block held, for at-rest checks and export. */
  blocks(): AsyncIterable<{ cid: CID; bytes: Uint8Array }>;
  close(): Promise<void>;
}
