import * as dagPb from '@ipld/dag-pb';
import { UnixFS } from 'ipfs-unixfs';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import { IntegrityError } from '../errors.js';
import { bytesEqual, concatBytes } from '../storage/bytes.js';
import type { BlockSource } from './block-source.js';

/** Far above any envelope (the node caps content at 64 MiB from peers). */
const MAX_FILE_BYTES = 64 * 1024 * 1024;
const MAX_DEPTH = 8;

/**
 * Reads a UnixFS file block by block, checking each block's sha2-256 against its CID before decoding
 * it, and walks dag-pb links in order. Written out (about 40 lines) rather than using
 * ipfs-unixfs-exporter, which trusts its blockstore: here the block source is the untrusted part.
 * @throws IntegrityError naming the block that does not match or does not decode; NotFoundError
 * (from the source) when a block is not held.
 */
export async function readVerifiedFile(source: BlockSource, cid: CID): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const visit = async (at: CID, depth: number): Promise<void> => {
    if (depth > MAX_DEPTH) throw new IntegrityError(`the DAG under ${cid} is deeper than ${MAX_DEPTH}`);
    const bytes = await verifiedBlock(source, at);
    if (at.code === raw.code) return push(bytes);
    if (at.code !== dagPb.code) {
      throw new IntegrityError(`block ${at} has codec 0x${at.code.toString(16)}, not dag-pb or raw`);
    }
    let node: dagPb.PBNode;
    let file: UnixFS;
    try {
      node = dagPb.decode(bytes);
      file = UnixFS.unmarshal(node.Data ?? new Uint8Array());
    } catch (error) {
      throw new IntegrityError(`block ${at} is not a UnixFS node: ${(error as Error).message}`);
    }
    if (file.type !== 'file' && file.type !== 'raw') {
      throw new IntegrityError(`block ${at} is a UnixFS ${file.type}, not a file`);
    }
    if (file.data) push(file.data);
    for (const link of node.Links) await visit(link.Hash, depth + 1);
  };
  const push = (bytes: Uint8Array) => {
    total += bytes.byteLength;
    if (total > MAX_FILE_BYTES) throw new IntegrityError(`${cid} is larger than ${MAX_FILE_BYTES} bytes`);
    chunks.push(bytes);
  };
  await visit(cid, 0);
  return concatBytes(chunks);
}

async function verifiedBlock(source: BlockSource, cid: CID): Promise<Uint8Array> {
  if (cid.multihash.code !== sha256.code) {
    throw new IntegrityError(
      `block ${cid} uses hash 0x${cid.multihash.code.toString(16)}; only sha2-256 is accepted`,
    );
  }
  const bytes = await source.block(cid);
  const { digest } = await sha256.digest(bytes);
  if (!bytesEqual(digest, cid.multihash.digest)) {
    throw new IntegrityError(`block ${cid} does not match its hash (corrupted or substituted)`);
  }
  return bytes;
}
