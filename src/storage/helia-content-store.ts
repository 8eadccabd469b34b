import { withBitswap } from '@helia/bitswap';
import { withLibp2pLight, type HeliaWithLibp2p } from '@helia/libp2p';
import { unixfs, type CatOptions } from '@helia/unixfs';
import * as dagPb from '@ipld/dag-pb';
import type { Libp2p } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { createHeliaLight } from 'helia';
import { UnixFS } from 'ipfs-unixfs';
import { importBytes, type ImporterOptions } from 'ipfs-unixfs-importer';
import { fixedSize } from 'ipfs-unixfs-importer/chunker';
import { balanced } from 'ipfs-unixfs-importer/layout';
import { CID } from 'multiformats/cid';
import { identity } from 'multiformats/hashes/identity';
import { sha256 } from 'multiformats/hashes/sha2';
import { NotFoundError } from '../errors.js';
import type { Logger } from '../logger.js';
import { collectBytes } from './bytes.js';
import type { ContentStore } from './content-store.js';
import { dagCar } from './dag-car.js';
import {
  configuredPeers,
  libp2pOptions,
  loadOrCreatePeerKey,
  type ConfiguredPeer,
  type IpfsNetworkOptions,
} from './ipfs-network.js';
import { LevelBlockstore, type Block } from './level-blockstore.js';

/** Kubo's classic `ipfs add` settings, so our CIDs equal the ones Kubo (and ipfs_cid) compute. */
const CHUNK_SIZE = 262_144;
const KUBO_CLASSIC: Pick<ImporterOptions, 'cidVersion' | 'rawLeaves' | 'chunker' | 'layout'> = {
  cidVersion: 0,
  rawLeaves: false,
  chunker: fixedSize({ chunkSize: CHUNK_SIZE }),
  layout: balanced({ maxChildrenPerNode: 174 }),
};
/** Bytes of blocks gathered before they are written as one batch. */
const MAX_BATCH_BYTES = 8 * 1024 * 1024;
/** How long a read waits for peers to send content this node does not hold. */
const DEFAULT_FETCH_TIMEOUT_MS = 10_000;
/** How often configured peers that are not connected are dialled again. */
const REDIAL_INTERVAL_MS = 2_000;

export interface OpenContentStoreParameters {
  /** The blockstore's LevelDB directory; created if missing, migrated if in blockstore-fs' layout. */
  blockstoreDir: string;
  /** The libp2p identity's file; without it the store has no peer id (tools that only read blocks). */
  peerKeyFile?: string;
  /** Join these peers over libp2p and fetch missing blocks from them by bitswap; absent: offline. */
  network?: IpfsNetworkOptions & { fetchTimeoutMs?: number };
  logger?: Logger;
}

/**
 * Opens a Helia node over an on-disk blockstore. Offline unless `network` lists addresses or peers:
 * then Helia runs libp2p (ipfs-network.ts) with bitswap as its only block broker, and a read of
 * content not held here asks the connected peers, each block checked against its CID by Helia
 * before it is kept. Every block read from disk is checked against its CID. `put`/`putMany` resolve
 * once every block is durable.
 */
export async function openContentStore(options: OpenContentStoreParameters): Promise<ContentStore> {
  const blockstore = await LevelBlockstore.open(options.blockstoreDir, options.logger);
  const peerKey = options.peerKeyFile ? await loadOrCreatePeerKey(options.peerKeyFile) : undefined;
  const network = options.network;
  const networked = Boolean(peerKey && network && (network.listen.length > 0 || network.peers.length > 0));
  // The datastore only holds pins, Helia's version marker and libp2p's peer store: memory is enough.
  const light = createHeliaLight({ blockstore });
  const helia = networked ? withBitswap(withLibp2pLight(light, libp2pOptions(network!, peerKey!))) : light;
  try {
    await helia.start();
  } catch (error) {
    await blockstore.close();
    throw error;
  }
  const libp2p = networked ? (helia as HeliaWithLibp2p).libp2p : undefined;
  const stopDialling = libp2p ? keepDialling(libp2p, configuredPeers(network!.peers), options.logger) : null;
  const fetchTimeoutMs = network?.fetchTimeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
  const fs = unixfs(helia);

  /** The blocks of one file go into `out`; returns its CID. */
  const encodeFile = async (bytes: Uint8Array, out: Block[]): Promise<CID> => {
    if (bytes.byteLength <= CHUNK_SIZE) {
      const block = singleBlockOf(bytes);
      const cid = CID.createV0(await sha256.digest(block));
      out.push({ cid, bytes: block });
      return cid;
    }
    const sink = {
      put: async (cid: CID, block: Uint8Array) => {
        out.push({ cid, bytes: block });
        return cid;
      },
    };
    return (await importBytes(bytes, sink, KUBO_CLASSIC)).cid;
  };

  /** Only what this node holds: the gateway never turns into a proxy that fetches for its callers. */
  function localBlock(cid: CID): Promise<Uint8Array | null> {
    return blockstore.getBlock(cid);
  }

  /** The whole file from connected peers by bitswap (Helia checks each block, and keeps it here). */
  async function fetchFromPeers(cid: CID, signal?: AbortSignal): Promise<Uint8Array> {
    const timeout = AbortSignal.timeout(fetchTimeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    try {
      return await collectBytes(fs.cat(cid, { signal: combined }));
    } catch (error) {
      if (signal?.aborted) throw error;
      if (timeout.aborted) {
        throw new NotFoundError(`content ${cid} is held neither here nor by a connected IPFS peer`);
      }
      throw error;
    }
  }

  /**
   * A file from its root block as read here: absent, it fails at once (or is fetched from libp2p
   * peers, when this node has them); an envelope — one block — is the root's own data, without UnixFS.
   */
  async function fileFrom(cid: CID, root: Uint8Array | null, signal?: AbortSignal): Promise<Uint8Array> {
    if (root === null) {
      if (libp2p) return fetchFromPeers(cid, signal);
      throw new NotFoundError(`No content held for CID ${cid}`);
    }
    const inline = singleBlockContent(cid, root);
    if (inline) return inline;
    // `offline` is honoured by Helia's block storage though CatOptions does not declare it.
    const catOptions: CatOptions & { offline: boolean } = { signal, offline: true };
    try {
      return await collectBytes(fs.cat(cid, catOptions));
    } catch (err) {
      if ((err as Error).name === 'BlockNotFoundWhileOfflineError') {
        throw new NotFoundError(`Content ${cid} is incomplete: one of its blocks is not held`);
      }
      throw err;
    }
  }

  /** Encodes every file, writing the blocks in synced batches of at most MAX_BATCH_BYTES. */
  const store = async (items: Uint8Array[], signal?: AbortSignal): Promise<CID[]> => {
    const cids: CID[] = [];
    let pending: Block[] = [];
    let pendingBytes = 0;
    for (const bytes of items) {
      signal?.throwIfAborted();
      const blocks: Block[] = [];
      cids.push(await encodeFile(bytes, blocks));
      pending.push(...blocks);
      pendingBytes += blocks.reduce((sum, b) => sum + b.bytes.byteLength, 0);
      if (pendingBytes >= MAX_BATCH_BYTES) {
        await blockstore.putBlocks(pending);
        pending = [];
        pendingBytes = 0;
      }
    }
    signal?.throwIfAborted();
    await blockstore.putBlocks(pending);
    return cids;
  };

  return {
    async put(bytes, opts) {
      const [cid] = await store([bytes], opts?.signal);
      return cid;
    },

    putMany(items, opts) {
      return store(items, opts?.signal);
    },

    async get(cid, opts) {
      opts?.signal?.throwIfAborted();
      return fileFrom(cid, await blockstore.getBlock(cid), opts?.signal);
    },

    async getMany(cids, opts) {
      opts?.signal?.throwIfAborted();
      const roots = await blockstore.getBlocks(cids);
      return Promise.all(cids.map((cid, i) => fileFrom(cid, roots[i], opts?.signal)));
    },
    cidOf,
    async has(cid) {
      return helia.blockstore.has(cid);
    },

    block: localBlock,

    async car(root, carOptions) {
      if (root.multihash.code !== identity.code && !(await blockstore.has(root))) return null;
      return dagCar(root, localBlock, carOptions);
    },

    peerId: peerKey ? peerIdFromPrivateKey(peerKey).toString() : null,

    listenAddresses() {
      return libp2p ? libp2p.getMultiaddrs().map((address) => address.toString()) : [];
    },

    async *blocks() {
      for await (const { cid, bytes } of blockstore.getAll()) {
        yield { cid, bytes: await collectBytes(bytes) };
      }
    },

    async close() {
      stopDialling?.();
      await helia.stop();
      await blockstore.close();
    },
  };
}

/**
 * Dials every configured peer that is not connected now and every REDIAL_INTERVAL_MS after, so a
 * peer that starts later, or restarts, is joined again. Returns the function that stops it.
 */
function keepDialling(libp2p: Libp2p, peers: ConfiguredPeer[], logger?: Logger): () => void {
  const failing = new Set<string>();
  const dialMissing = () => {
    for (const peer of peers) {
      if (peer.peerId === libp2p.peerId.toString()) continue;
      if (libp2p.getConnections().some((c) => c.remotePeer.toString() === peer.peerId)) continue;
      libp2p.dial(peer.address).then(
        () => {
          if (failing.delete(peer.peerId)) logger?.info('IPFS peer connected', { peer: peer.peerId });
        },
        (error: Error) => {
          // Logged once per outage, not on every attempt.
          if (failing.has(peer.peerId)) return;
          failing.add(peer.peerId);
          logger?.warn('IPFS peer unreachable; dialling again', { peer: peer.peerId, error: error.message });
        },
      );
    }
  };
  dialMissing();
  const timer = setInterval(dialMissing, REDIAL_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/** The CID `put` would return for these bytes, computed without storing anything. */
export async function cidOf(bytes: Uint8Array): Promise<CID> {
  if (bytes.byteLength <= CHUNK_SIZE) return CID.createV0(await sha256.digest(singleBlockOf(bytes)));
  return cidOfImported(bytes);
}

/** The CID as the UnixFS importer computes it, at any size (the reference the fast path is tested against). */
export async function cidOfImported(bytes: Uint8Array): Promise<CID> {
  const discard = { put: async (cid: CID) => cid };
  const { cid } = await importBytes(bytes, discard, KUBO_CLASSIC);
  return cid;
}

/**
 * The file's bytes when its root block holds all of them (a raw leaf, or a dag-pb UnixFS file
 * without links, what {@link singleBlockOf} writes); null when the file spans more blocks.
 */
function singleBlockContent(cid: CID, block: Uint8Array): Uint8Array | null {
  if (cid.code === RAW_CODEC) return block;
  if (cid.code !== dagPb.code) return null;
  const node = dagPb.decode(block);
  if (node.Links.length > 0 || !node.Data) return null;
  const file = UnixFS.unmarshal(node.Data);
  if (file.type !== 'file' && file.type !== 'raw') return null;
  if (file.blockSizes.length > 0) return null;
  return file.data ?? new Uint8Array(0);
}

/** The multicodec code of raw leaves. */
const RAW_CODEC = 0x55;

/**
 * The one block the importer builds for content that fits in one chunk (with CIDv0 and
 * `rawLeaves: false`): a dag-pb node without links whose Data is a UnixFS `file` holding the bytes
 * inline. Built directly it costs a protobuf encoding and one SHA-256 instead of the importer's
 * chunker, layout and async pipeline; tests compare both at every size class up to one chunk.
 */
function singleBlockOf(bytes: Uint8Array): Uint8Array {
  return dagPb.encode({ Data: new UnixFS({ type: 'file', data: bytes }).marshal(), Links: [] });
}
