import { unixfs, type CatOptions } from '@helia/unixfs';
import { FsBlockstore } from 'blockstore-fs';
import { createHeliaLight } from 'helia';
import { importBytes, type ImporterOptions } from 'ipfs-unixfs-importer';
import { fixedSize } from 'ipfs-unixfs-importer/chunker';
import { balanced } from 'ipfs-unixfs-importer/layout';
import type { CID } from 'multiformats/cid';
import { sha256 } from 'multiformats/hashes/sha2';
import { IntegrityError, NotFoundError } from '../errors.js';
import { bytesEqual, collectBytes } from './bytes.js';
import type { ContentStore } from './content-store.js';

/** Kubo's classic `ipfs add` settings, so our CIDs equal the ones Kubo (and ipfs_cid) compute. */
const KUBO_CLASSIC: Pick<ImporterOptions, 'cidVersion' | 'rawLeaves' | 'chunker' | 'layout'> = {
  cidVersion: 0,
  rawLeaves: false,
  chunker: fixedSize({ chunkSize: 262_144 }),
  layout: balanced({ maxChildrenPerNode: 174 }),
};

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

  return {
    async put(bytes, opts) {
      return fs.addBytes(bytes, { ...KUBO_CLASSIC, signal: opts?.signal });
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
  const discard = { put: async (cid: CID) => cid };
  const { cid } = await importBytes(bytes, discard, KUBO_CLASSIC);
  return cid;
}

type GetOptions = Parameters<FsBlockstore['get']>[1];
type GetAllOptions = Parameters<FsBlockstore['getAll']>[0];

/**
 * Helia hashes blocks fetched from peers but trusts its local blockstore, so a flipped bit on disk
 * would come back as wrong bytes. This store re-hashes every block it reads.
 */
class VerifyingFsBlockstore extends FsBlockstore {
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
