import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { unixfs, type CatOptions } from '@helia/unixfs';
import * as dagPb from '@ipld/dag-pb';
import { FsBlockstore } from 'blockstore-fs';
import { NextToLast } from 'blockstore-fs/sharding';
import { createHeliaLight } from 'helia';
import { UnixFS } from 'ipfs-unixfs';
import { importBytes, type ImporterOptions } from 'ipfs-unixfs-importer';
import { fixedSize } from 'ipfs-unixfs-importer/chunker';
import { balanced } from 'ipfs-unixfs-importer/layout';
import { CID } from 'multiformats/cid';
import { sha256 } from 'multiformats/hashes/sha2';
import { IntegrityError, NotFoundError } from '../errors.js';
import { bytesEqual, collectBytes } from './bytes.js';
import type { ContentStore } from './content-store.js';

/** Kubo's classic `ipfs add` settings, so our CIDs equal the ones Kubo (and ipfs_cid) compute. */
const CHUNK_SIZE = 262_144;
const KUBO_CLASSIC: Pick<ImporterOptions, 'cidVersion' | 'rawLeaves' | 'chunker' | 'layout'> = {
  cidVersion: 0,
  rawLeaves: false,
  chunker: fixedSize({ chunkSize: CHUNK_SIZE }),
  layout: balanced({ maxChildrenPerNode: 174 }),
};
/** Temp file names: `.<block file>.<pid>-<random>-<counter>.tmp`, so they never collide. */
const TEMP_PREFIX = `${process.pid}-${randomBytes(4).toString('hex')}-`;
let tempCounter = 0;
/** Block files written at once by putMany (each is a few calls on libuv's thread pool). */
const WRITE_CONCURRENCY = 32;

export interface OpenContentStoreParameters {
  /** Directory holding one file per block; created if missing. */
  blockstoreDir: string;
}

/**
 * Opens a Helia node over an on-disk blockstore, fully offline: no libp2p, no block brokers, no
 * routers. Every block read from disk is checked against its CID.
 */
export async function openContentStore(options: OpenContentStoreParameters): Promise<ContentStore> {
  const blockstore = new VerifyingFsBlockstore(options.blockstoreDir);
  await blockstore.open();
  // The datastore only holds pins and Helia's version marker; we pin nothing, so memory is enough.
  const helia = createHeliaLight({ blockstore });
  await helia.start();
  const fs = unixfs(helia);

  /** Writes the blocks of one file; the directories it touched are added to `dirty`. */
  const addFile = async (bytes: Uint8Array, dirty: Set<string>, signal?: AbortSignal): Promise<CID> => {
    signal?.throwIfAborted();
    if (bytes.byteLength <= CHUNK_SIZE) {
      const block = singleBlockOf(bytes);
      const cid = CID.createV0(await sha256.digest(block));
      await blockstore.writeBlock(cid, block, dirty);
      return cid;
    }
    const sink = { put: async (cid: CID, block: Uint8Array) => blockstore.writeBlock(cid, block, dirty) };
    return (await importBytes(bytes, sink, KUBO_CLASSIC)).cid;
  };

  return {
    async put(bytes, opts) {
      const dirty = new Set<string>();
      const cid = await addFile(bytes, dirty, opts?.signal);
      await blockstore.syncDirectories(dirty);
      return cid;
    },

    async putMany(items, opts) {
      const dirty = new Set<string>();
      const cids = await mapConcurrently(items, WRITE_CONCURRENCY, (bytes) =>
        addFile(bytes, dirty, opts?.signal),
      );
      await blockstore.syncDirectories(dirty);
      return cids;
    },

    async get(cid, opts) {
      // Checked first so a missing root fails at once instead of asking (absent) peers.
      if (!(await helia.blockstore.has(cid))) throw new NotFoundError(`No content held for CID ${cid}`);
      // `offline` is honoured by Helia's block storage though CatOptions does not declare it.
      const catOptions: CatOptions & { offline: boolean } = { signal: opts?.signal, offline: true };
      try {
        return await collectBytes(fs.cat(cid, catOptions));
      } catch (err) {
        if ((err as Error).name === 'BlockNotFoundWhileOfflineError') {
          throw new NotFoundError(`Content ${cid} is incomplete: one of its blocks is not held`);
        }
        throw err;
      }
    },

    async has(cid) {
      return helia.blockstore.has(cid);
    },

    async *blocks() {
      for await (const { cid, bytes } of blockstore.getAll()) {
        yield { cid, bytes: await collectBytes(bytes) };
      }
    },

    async close() {
      await helia.stop();
      await blockstore.close();
    },
  };
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
 * The one block the importer builds for content that fits in one chunk (with CIDv0 and
 * `rawLeaves: false`): a dag-pb node without links whose Data is a UnixFS `file` holding the bytes
 * inline. Built directly it costs a protobuf encoding and one SHA-256 instead of the importer's
 * chunker, layout and async pipeline; tests compare both at every size class up to one chunk.
 */
function singleBlockOf(bytes: Uint8Array): Uint8Array {
  return dagPb.encode({ Data: new UnixFS({ type: 'file', data: bytes }).marshal(), Links: [] });
}

type GetOptions = Parameters<FsBlockstore['get']>[1];
type GetAllOptions = Parameters<FsBlockstore['getAll']>[0];

/**
 * Helia hashes blocks fetched from peers but trusts its local blockstore, so a flipped bit on disk
 * would come back as wrong bytes. This store re-hashes every block it reads.
 *
 * It also writes durably, which blockstore-fs (steno: write a temp file, rename) does not: nothing
 * is fsynced there, so after a power loss or kernel crash a block the node had acknowledged (and
 * Postgres, which does fsync, refers to) could be missing or empty. Here each block goes to a unique
 * temp file that is fdatasync'ed before it is renamed into place, and the directories whose entries
 * changed are fsynced once per put/putMany ({@link syncDirectories}) before the caller is answered.
 */
class VerifyingFsBlockstore extends FsBlockstore {
  /** blockstore-fs' default layout (its own instance is private): `<root>/<next-to-last 2 chars>/<key>.data`. */
  private readonly sharding = new NextToLast();
  /** Shard directories known to exist, so most writes skip the mkdir. */
  private readonly knownDirs = new Set<string>();

  override async open(): Promise<void> {
    await super.open();
    await fsyncDirectory(this.path);
  }

  /** Atomic, data-synced write of one block; the directories to fsync afterwards go into `dirty`. */
  async writeBlock(cid: CID, bytes: Uint8Array, dirty: Set<string>): Promise<CID> {
    const { dir, file } = this.sharding.encode(cid);
    const directory = path.join(this.path, dir);
    if (!this.knownDirs.has(directory)) {
      // A new shard directory is itself a new entry of the blockstore root.
      if ((await mkdir(directory, { recursive: true })) !== undefined) dirty.add(this.path);
      this.knownDirs.add(directory);
    }
    const target = path.join(directory, file);
    // Unique per write (one node per data dir, and the pid guards even that), without a getrandom call.
    const temp = path.join(directory, `.${file}.${TEMP_PREFIX}${(tempCounter++).toString(36)}.tmp`);
    let handle: FileHandle;
    try {
      handle = await open(temp, 'w');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      // The shard directory went away under us (removed by hand): make it again.
      this.knownDirs.delete(directory);
      await mkdir(directory, { recursive: true });
      dirty.add(this.path);
      handle = await open(temp, 'w');
    }
    try {
      await handle.writeFile(bytes);
      if (!process.env.NO_SYNC) await handle.datasync();
    } catch (error) {
      await handle.close();
      await unlink(temp).catch(() => undefined);
      throw error;
    }
    await handle.close();
    await rename(temp, target);
    dirty.add(directory);
    return cid;
  }

  /** Makes the renames behind earlier {@link writeBlock} calls durable. */
  async syncDirectories(dirty: Set<string>): Promise<void> {
    await mapConcurrently([...dirty], WRITE_CONCURRENCY, fsyncDirectory);
  }

  override async put(key: CID, val: Parameters<FsBlockstore['put']>[1]): Promise<CID> {
    const dirty = new Set<string>();
    const bytes = val instanceof Uint8Array ? val : await collectBytes(val);
    await this.writeBlock(key, bytes, dirty);
    await this.syncDirectories(dirty);
    return key;
  }

  override async *get(key: CID, options?: GetOptions): AsyncGenerator<Uint8Array> {
    yield await verifiedBlock(key, super.get(key, options));
  }

  override async *getAll(
    options?: GetAllOptions,
  ): AsyncGenerator<{ cid: CID; bytes: AsyncGenerator<Uint8Array> }> {
    for await (const { cid, bytes } of super.getAll(options)) {
      yield {
        cid,
        bytes: (async function* () {
          yield await verifiedBlock(cid, bytes);
        })(),
      };
    }
  }
}

async function verifiedBlock(
  cid: CID,
  chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
): Promise<Uint8Array> {
  const bytes = await collectBytes(chunks);
  if (cid.multihash.code !== sha256.code) {
    throw new IntegrityError(
      `Block ${cid} uses hash 0x${cid.multihash.code.toString(16)}; only sha2-256 is accepted`,
    );
  }
  const { digest } = await sha256.digest(bytes);
  if (!bytesEqual(digest, cid.multihash.digest)) {
    throw new IntegrityError(
      `Block ${cid} in the blockstore does not match its hash: the stored file is corrupted`,
    );
  }
  return bytes;
}

async function fsyncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function mapConcurrently<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
