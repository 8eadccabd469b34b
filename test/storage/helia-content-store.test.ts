import { mkdtemp, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CID } from 'multiformats/cid';
import { sha256 } from 'multiformats/hashes/sha2';
import { IntegrityError, NotFoundError } from '../../src/errors.js';
import type { ContentStore } from '../../src/storage/content-store.js';
import { cidOf, openContentStore } from '../../src/storage/helia-content-store.js';

/** Bytes i % 251: a deterministic pattern with no period that lines up with the 256 KiB chunks. */
function pattern(length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = i % 251;
  return out;
}

const hello = new TextEncoder().encode('hello world\n');

// Known answers from an independent implementation: Debian's ipfs-cid package, `ipfs_cid FILE`
// (its CIDv0 field), run on files holding exactly these bytes.
const KUBO: [name: string, bytes: () => Uint8Array, cid: string][] = [
  ['empty file', () => new Uint8Array(0), 'QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH'],
  ['"hello world\\n" (12 B)', () => hello, 'QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o'],
  ['exactly one chunk (262144 B)', () => pattern(262_144), 'QmeqfRyS3vkku7n6krqC3DgGMex3x2sCpSeKMDmrG13QQq'],
  ['one chunk + 1 byte (262145 B)', () => pattern(262_145), 'QmUSjGawaz4ptvREcMKSMJneWCa5j8dAz2wSAAvHtW2rnB'],
  ['600000 B (3 chunks)', () => pattern(600_000), 'QmWKdZuiD9zqoZFnLYbpV2Q5YhRCJWpqiVeYA8ygYEjcEe'],
  ['1 MiB (4 chunks)', () => pattern(1_048_576), 'QmXgkY4miMKJBrg8YYke4xw6C2n8WNsUc1GXLhN84k4QM3'],
];

// Jest's deep equality walks buffers element by element (seconds per MiB); compare natively.
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}

async function blockFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.filter((e) => e.endsWith('.data')).map((e) => join(dir, e));
}

describe('cidOf', () => {
  it.each(KUBO)('matches Kubo for %s', async (_name, bytes, cid) => {
    expect((await cidOf(bytes())).toString()).toBe(cid);
  });

  it('matches Kubo past 174 leaves, where the balanced tree gains a level (45.6 MB)', async () => {
    const bytes = pattern(174 * 262_144 + 1);
    expect((await cidOf(bytes)).toString()).toBe('QmTedsTekQQkgACJXb1sPZSW8bLdS9LPMrT7L4YdjNRd4n');
  });
});

describe('openContentStore', () => {
  let dir: string;
  let store: ContentStore;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'omnichart-blocks-'));
    store = await openContentStore({ blockstoreDir: dir });
  });

  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it.each(KUBO)('stores %s under its Kubo CID and reads it back', async (_name, bytes, cid) => {
    const put = await store.put(bytes());
    expect(put.toString()).toBe(cid);
    expect(await store.has(put)).toBe(true);
    expect(sameBytes(await store.get(CID.parse(cid)), bytes())).toBe(true);
  });

  it('says has=false and throws NotFoundError at once for content it never stored', async () => {
    const absent = await cidOf(new TextEncoder().encode('never stored'));
    expect(await store.has(absent)).toBe(false);
    const started = Date.now();
    await expect(store.get(absent)).rejects.toThrow(NotFoundError);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('keeps content across close and reopen of the same directory', async () => {
    const bytes = pattern(600_000);
    const cid = await store.put(bytes);
    await store.close();
    store = await openContentStore({ blockstoreDir: dir });
    expect(await store.has(cid)).toBe(true);
    expect(sameBytes(await store.get(cid), bytes)).toBe(true);
  });

  it('lists every raw block, each matching its CID', async () => {
    const cid = await store.put(pattern(600_000));
    const blocks = [];
    for await (const block of store.blocks()) blocks.push(block);
    // 3 leaves of 262144 + 262144 + 75712 bytes of data, and the root linking them.
    expect(blocks).toHaveLength(4);
    expect(blocks.map((b) => b.cid.toString())).toContain(cid.toString());
    for (const block of blocks) {
      expect(sameBytes((await sha256.digest(block.bytes)).digest, block.cid.multihash.digest)).toBe(true);
    }
  });

  it('rejects a corrupted block file with IntegrityError instead of returning wrong bytes', async () => {
    const cid = await store.put(hello);
    const [file] = await blockFiles(dir);
    const raw = await readFile(file);
    // Flip one bit inside the file data ("hello" → "hellm"), leaving the protobuf framing valid.
    raw[raw.indexOf('hello') + 4] ^= 0x02;
    await writeFile(file, raw);
    await store.close();
    store = await openContentStore({ blockstoreDir: dir });
    await expect(store.get(cid)).rejects.toThrow(IntegrityError);
    await expect(store.get(cid)).rejects.toThrow(/does not match its hash/);
    const listing = async () => {
      for await (const _block of store.blocks()) void _block;
    };
    await expect(listing()).rejects.toThrow(IntegrityError);
  });

  it('throws NotFoundError when a leaf block of a multi-block file is missing', async () => {
    const cid = await store.put(pattern(600_000));
    let rootBytes: Uint8Array | undefined;
    for await (const block of store.blocks()) if (block.cid.equals(cid)) rootBytes = block.bytes;
    const files = await blockFiles(dir);
    const contents = await Promise.all(files.map((f) => readFile(f)));
    const leaf = files.find((_f, i) => !contents[i].equals(Buffer.from(rootBytes!)));
    await unlink(leaf!);
    await expect(store.get(cid)).rejects.toThrow(NotFoundError);
  });
});
