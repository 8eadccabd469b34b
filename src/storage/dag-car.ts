import { CarWriter } from '@ipld/car/writer';
import * as dagPb from '@ipld/dag-pb';
import type { CID } from 'multiformats/cid';
import { identity } from 'multiformats/hashes/identity';
import { NotFoundError } from '../errors.js';

/** What a CAR of one DAG holds: the root block only, or every block reachable from it. */
export type DagScope = 'block' | 'all';

export interface CarOptions {
  scope: DagScope;
  /** Send a block again each time the walk meets it (`dups=y`), or once (`dups=n`). */
  duplicates: boolean;
}

type ReadBlock = (cid: CID) => Promise<Uint8Array | null>;

/**
 * The DAG under `root` in depth-first order (the CAR order `dfs`), read from `read` only: every
 * block comes from the local blockstore, which checks it against its CID. Identity CIDs carry their
 * bytes in the CID and are never sent as blocks (the trustless gateway spec). Only dag-pb links are
 * followed; raw leaves and other codecs end a branch.
 */
async function* walkDag(root: CID, read: ReadBlock, options: CarOptions) {
  const seen = new Set<string>();
  const stack: CID[] = [root];
  for (let cid = stack.pop(); cid; cid = stack.pop()) {
    if (cid.multihash.code === identity.code) continue;
    const key = cid.toString();
    if (!options.duplicates && seen.has(key)) continue;
    seen.add(key);
    const bytes = await read(cid);
    if (!bytes) throw new NotFoundError(`block ${key} of the DAG under ${root} is not held here`);
    yield { cid, bytes };
    if (options.scope === 'block' || cid.code !== dagPb.code) continue;
    const links = dagPb.decode(bytes).Links;
    for (let i = links.length - 1; i >= 0; i -= 1) stack.push(links[i].Hash);
  }
}

/**
 * A CARv1 stream of the DAG under `root`, its header naming `root`. A block missing midway ends the
 * stream with that error (the response is cut, as the spec asks; a client sees an incomplete CAR).
 * The writer waits for each chunk to be read; when the reader stops early (a client went away) the
 * walk stops at the next block and what it already queued is drained, so nothing is left waiting.
 */
export async function* dagCar(root: CID, read: ReadBlock, options: CarOptions): AsyncGenerator<Uint8Array> {
  const { writer, out } = CarWriter.create([root]);
  const chunks = out[Symbol.asyncIterator]();
  let failure: unknown;
  let abandoned = false;
  const producing = (async () => {
    try {
      for await (const block of walkDag(root, read, options)) {
        if (abandoned) break;
        await writer.put(block);
      }
    } catch (error) {
      failure = error;
    } finally {
      await writer.close();
    }
  })();
  let finished = false;
  try {
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield next.value;
    finished = true;
  } finally {
    if (!finished) {
      abandoned = true;
      void (async () => {
        while (!(await chunks.next()).done);
      })();
    }
  }
  await producing;
  if (failure) throw failure;
}
