import { jest } from '@jest/globals';
import { access, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsBlockstore } from 'blockstore-fs';
import { ClassicLevel } from 'classic-level';
import { CID } from 'multiformats/cid';
import { sha256 } from 'multiformats/hashes/sha2';
import { IntegrityError, NotFoundError } from '../../src/errors.js';
import type { ContentStore } from '../../src/storage/content-store.js';
import { cidOf, cidOfImported, openContentStore } from '../../src/storage/helia-content-store.js';

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

/** Opens the closed store's LevelDB directly, to damage it the way a disk or a person could. */
async function withRawDb(dir: string, work: (db: ClassicLevel<Uint8Array, Uint8Array>) => Promise<void>) {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  try {
    await work(db);
  } finally {
    await db.close();
  }
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
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

describe('cidOf fast path for content of one chunk', () => {
  // Every protobuf varint length class of the UnixFS Data field and of the dag-pb Data field
  // (1, 2 and 3 bytes), the chunk boundary on both sides, and random sizes in between.
  const boundaries = [
    0, 1, 2, 3, 100, 111, 112, 113, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127, 128, 129, 130, 131,
    255, 256, 1000, 1500, 4096, 16_370, 16_371, 16_372, 16_373, 16_374, 16_375, 16_376, 16_377, 16_378,
    16_379, 16_380, 16_381, 16_382, 16_383, 16_384, 16_385, 16_386, 65_536, 131_072, 262_000, 262_136,
    262_140, 262_143, 262_144, 262_145, 262_146, 300_000,
  ];
  let seed = 42;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const sizes = [...boundaries, ...Array.from({ length: 150 }, () => Math.floor(random() * 262_145))];

  it(`gives the importer's CID at ${sizes.length} sizes from 0 to 262144 bytes and just past it`, async () => {
    const mismatches: string[] = [];
    for (const size of sizes) {
      const bytes = new Uint8Array(size);
      for (let i = 0; i < size; i++) bytes[i] = (i * 31 + size) & 0xff;
      const [fast, imported] = [await cidOf(bytes), await cidOfImported(bytes)];
      if (!fast.equals(imported)) mismatches.push(`${size}: ${fast} != ${imported}`);
    }
    expect(mismatches).toEqual([]);
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

  it('putMany stores each item under the CID put would give, in order, readable after reopen', async () => {
    const items = [
      new Uint8Array(0),
      hello,
      pattern(3_000),
      pattern(262_144),
      pattern(262_145),
      pattern(600_000),
      ...Array.from({ length: 60 }, (_, i) => pattern(1_000 + i * 97)),
    ];
    const cids = await store.putMany(items);
    expect(cids.map(String)).toEqual(await Promise.all(items.map(async (b) => String(await cidOf(b)))));
    expect(cids[0].toString()).toBe(KUBO[0][2]);
    expect(cids[5].toString()).toBe(KUBO[4][2]);
    await store.close();
    store = await openContentStore({ blockstoreDir: dir });
    for (const [i, cid] of cids.entries()) expect(sameBytes(await store.get(cid), items[i])).toBe(true);
    expect(await store.putMany([])).toEqual([]);
  });

  it('stores a block shared by two files once and lists each block once', async () => {
    const cids = await store.putMany([hello, pattern(2_000), pattern(2_000)]);
    expect(cids[1].equals(cids[2])).toBe(true);
    const listed = [];
    for await (const block of store.blocks()) listed.push(block.cid.toString());
    expect(listed.sort()).toEqual([cids[0].toString(), cids[1].toString()].sort());
  });

  it('migrates a directory in blockstore-fs layout (what earlier versions wrote), checking every block', async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
    // An earlier version's store: one file per block, written by blockstore-fs itself.
    const items = [hello, pattern(3_000), pattern(600_000)];
    const scratch = await mkdtemp(join(tmpdir(), 'omnichart-scratch-'));
    const reference = await openContentStore({ blockstoreDir: scratch });
    const cids = await reference.putMany(items);
    const blocks: { cid: CID; bytes: Uint8Array }[] = [];
    for await (const block of reference.blocks()) blocks.push(block);
    await reference.close();
    await rm(scratch, { recursive: true, force: true });
    const legacy = new FsBlockstore(dir);
    await legacy.open();
    for (const { cid, bytes } of blocks) await legacy.put(cid, bytes);
    await legacy.close();
    expect((await readdir(dir, { recursive: true })).filter((f) => f.endsWith('.data'))).toHaveLength(
      blocks.length,
    );

    store = await openContentStore({ blockstoreDir: dir });
    for (const [i, cid] of cids.entries()) expect(sameBytes(await store.get(cid), items[i])).toBe(true);
    expect(await exists(`${dir}.fs-layout`)).toBe(false);
    expect(await exists(join(dir, 'CURRENT'))).toBe(true);
    // Reopening finds a LevelDB store and migrates nothing again.
    await store.close();
    store = await openContentStore({ blockstoreDir: dir });
    expect(sameBytes(await store.get(cids[2]), items[2])).toBe(true);
  });

  it('finishes a migration a crash interrupted: old directory moved aside, store half filled', async () => {
    await store.put(hello); // already copied before the "crash"
    await store.close();
    const rest = [pattern(3_000), pattern(600_000)];
    const scratch = await mkdtemp(join(tmpdir(), 'omnichart-scratch-'));
    const reference = await openContentStore({ blockstoreDir: scratch });
    const cids = await reference.putMany(rest);
    const legacy = new FsBlockstore(`${dir}.fs-layout`);
    await legacy.open();
    for await (const { cid, bytes } of reference.blocks()) await legacy.put(cid, bytes);
    await legacy.close();
    await reference.close();
    await rm(scratch, { recursive: true, force: true });

    store = await openContentStore({ blockstoreDir: dir });
    expect(sameBytes(await store.get(await cidOf(hello)), hello)).toBe(true);
    for (const [i, cid] of cids.entries()) expect(sameBytes(await store.get(cid), rest[i])).toBe(true);
    expect(await exists(`${dir}.fs-layout`)).toBe(false);
  });

  it('keeps an old directory holding a corrupted block after copying the sound ones', async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
    const good = await cidOf(hello);
    const bad = await cidOf(pattern(100));
    const legacy = new FsBlockstore(dir);
    await legacy.open();
    const helloBlock = await blockBytes(hello);
    await legacy.put(good, helloBlock);
    await legacy.put(bad, helloBlock); // wrong bytes for this CID
    await legacy.close();

    store = await openContentStore({ blockstoreDir: dir });
    expect(sameBytes(await store.get(good), hello)).toBe(true);
    expect(await store.has(bad)).toBe(false);
    expect(await exists(`${dir}.fs-layout`)).toBe(true);
    await rm(`${dir}.fs-layout`, { recursive: true, force: true });
  });

  it('says has=false and throws NotFoundError at once for content it never stored', async () => {
    const absent = await cidOf(new TextEncoder().encode('never stored'));
    expect(await store.has(absent)).toBe(false);
    const started = Date.now();
    await expect(store.get(absent)).rejects.toThrow(NotFoundError);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('reads a one-block file with one LevelDB lookup and no `has` first, absent or held', async () => {
    const cid = await store.put(pattern(3_000));
    const absent = await cidOf(new TextEncoder().encode('not here'));
    const gets = jest.spyOn(ClassicLevel.prototype, 'get');
    const hasCalls = jest.spyOn(ClassicLevel.prototype, 'has');
    try {
      expect(sameBytes(await store.get(cid), pattern(3_000))).toBe(true);
      expect(gets).toHaveBeenCalledTimes(1);
      await expect(store.get(absent)).rejects.toThrow(NotFoundError);
      expect(gets).toHaveBeenCalledTimes(2);
      expect(sameBytes((await store.block(cid))!, (await store.block(cid))!)).toBe(true);
      expect(await store.block(absent)).toBeNull();
      expect(gets).toHaveBeenCalledTimes(5);
      expect(hasCalls).not.toHaveBeenCalled();
    } finally {
      gets.mockRestore();
      hasCalls.mockRestore();
    }
  });

  it('getMany reads files as get does, in order, with one LevelDB lookup for all their roots', async () => {
    const items = [pattern(3_000), hello, pattern(600_000), new Uint8Array(0), pattern(3_000)];
    const cids = await store.putMany(items);
    // The 600,000-byte file is known to Kubo; the rest are checked against the bytes stored.
    expect(cids[2].toString()).toBe(KUBO[4][2]);
    const gets = jest.spyOn(ClassicLevel.prototype, 'get');
    const getMany = jest.spyOn(ClassicLevel.prototype, 'getMany');
    try {
      const files = await store.getMany(cids);
      expect(files.map((f, i) => sameBytes(f, items[i]))).toEqual(items.map(() => true));
      expect(getMany).toHaveBeenCalledTimes(1);
      // Only the multi-block file is then walked by UnixFS: its root again and its three leaves.
      expect(gets).toHaveBeenCalledTimes(4);
      expect(await store.getMany([])).toEqual([]);
      const absent = await cidOf(new TextEncoder().encode('not here'));
      await expect(store.getMany([cids[0], absent])).rejects.toThrow(NotFoundError);
    } finally {
      gets.mockRestore();
      getMany.mockRestore();
    }
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

  it('rejects a corrupted block with IntegrityError instead of returning wrong bytes', async () => {
    const cid = await store.put(hello);
    await store.close();
    await withRawDb(dir, async (db) => {
      const raw = Buffer.from((await db.get(cid.bytes))!);
      // Flip one bit inside the file data ("hello" → "hellm"), leaving the protobuf framing valid.
      raw[raw.indexOf('hello') + 4] ^= 0x02;
      await db.put(cid.bytes, raw);
    });
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
    const leaves: CID[] = [];
    for await (const block of store.blocks()) if (!block.cid.equals(cid)) leaves.push(block.cid);
    expect(leaves).toHaveLength(3);
    await store.close();
    await withRawDb(dir, (db) => db.del(leaves[1].bytes));
    store = await openContentStore({ blockstoreDir: dir });
    expect(await store.has(cid)).toBe(true);
    await expect(store.get(cid)).rejects.toThrow(NotFoundError);
  });
});

/** The one dag-pb block of a small file, as the store writes it. */
async function blockBytes(bytes: Uint8Array): Promise<Uint8Array> {
  const scratch = await mkdtemp(join(tmpdir(), 'omnichart-scratch-'));
  const single = await openContentStore({ blockstoreDir: scratch });
  try {
    const cid = await single.put(bytes);
    for await (const block of single.blocks()) if (block.cid.equals(cid)) return block.bytes;
    throw new Error('the block was not listed');
  } finally {
    await single.close();
    await rm(scratch, { recursive: true, force: true });
  }
}
