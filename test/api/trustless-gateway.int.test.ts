import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, get, type Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fallbackRouter } from '@helia/fallback-router';
import { trustlessGatewayBlockBroker } from '@helia/trustless-gateway-client';
import { unixfs } from '@helia/unixfs';
import { CarBlockIterator, CarReader } from '@ipld/car';
import * as dagPb from '@ipld/dag-pb';
import express from 'express';
import { createHeliaLight, type Router } from 'helia';
import { CID } from 'multiformats/cid';
import { sha256 } from 'multiformats/hashes/sha2';
import nacl from 'tweetnacl';
import { peerRoutes, type PeerApi } from '../../src/api/peer-routes.js';
import { NotFoundError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { collectBytes } from '../../src/storage/bytes.js';
import type { ContentStore } from '../../src/storage/content-store.js';
import { dagCar } from '../../src/storage/dag-car.js';
import { sealRecord } from '../../src/storage/envelope.js';
import { openContentStore } from '../../src/storage/helia-content-store.js';

let dir: string;
let content: ContentStore;
let api: PeerApi;
let server: Server;
let base: string;
/** A sealed record as the node stores it, and a file of three 256 KiB chunks under one root. */
let envelope: Uint8Array;
let envelopeCid: CID;
let large: Uint8Array;
let largeCid: CID;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'omnichart-trustless-'));
  content = await openContentStore({ blockstoreDir: path.join(dir, 'blocks') });
  api = {
    nodeInfo: () => ({ relayerAddress: '', chainId: '1', contractAddress: '' }),
    localContent: async (cid) => ((await content.has(cid)) ? content.get(cid) : null),
    localBlock: (cid) => content.block(cid),
    localCar: (cid, options) => content.car(cid, options),
  };
  server = createServer(express().use(peerRoutes(api, silentLogger)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const recipient = nacl.box.keyPair();
  envelope = sealRecord({
    plaintext: new TextEncoder().encode(JSON.stringify({ resourceType: 'Observation', status: 'final' })),
    recipients: [{ boxPublicKey: recipient.publicKey }],
  });
  envelopeCid = await content.put(envelope);
  large = new Uint8Array(700_000).map((_, i) => (i * 13) % 249);
  largeCid = await content.put(large);
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await content.close();
  await rm(dir, { recursive: true, force: true });
});

afterEach(() => {
  api.strict = false;
});

async function sha256Matches(cid: CID, bytes: Uint8Array): Promise<boolean> {
  return Buffer.from((await sha256.digest(bytes)).digest).equals(Buffer.from(cid.multihash.digest));
}

describe('a separate Helia with only our trustless gateway configured', () => {
  it('fetches an envelope, and a multi-block file, by CID and gets the same bytes', async () => {
    // Helia's own router that names gateways, offered as a plain router: Helia asks routers marked
    // "fallback" only after the others, and with no others its provider search never ends (helia 7.1).
    const gateways = fallbackRouter({ gateways: [base] });
    const onlyOurGateway: Router = {
      name: 'omnichart-gateway',
      findProviders: (cid, options) => gateways.findProviders!(cid, options),
    };
    const helia = createHeliaLight({
      // The gateway client Helia ships is its only block broker: no bitswap, no libp2p.
      blockBrokers: [trustlessGatewayBlockBroker({ allowInsecure: true, allowLocal: true })],
      routers: [onlyOurGateway],
    });
    await helia.start();
    try {
      const fs = unixfs(helia);
      const signal = AbortSignal.timeout(20_000);
      const fetched = await collectBytes(fs.cat(envelopeCid, { signal }));
      expect(Buffer.from(fetched).equals(Buffer.from(envelope))).toBe(true);
      const whole = await collectBytes(fs.cat(largeCid, { signal }));
      expect(Buffer.from(whole).equals(Buffer.from(large))).toBe(true);
      // Its blockstore now holds what came over HTTP: the block fetched, not trusted.
      expect(await helia.blockstore.has(largeCid)).toBe(true);
    } finally {
      await helia.stop();
    }
  });
});

describe('GET /ipfs/<cid> by the trustless gateway spec', () => {
  it('answers the probe bafkqaaa with 200 and an empty block, and a CAR rooted at it', async () => {
    const raw = await fetch(`${base}/ipfs/bafkqaaa?format=raw`, {
      headers: { accept: 'application/vnd.ipld.raw' },
    });
    expect(raw.status).toBe(200);
    expect((await raw.arrayBuffer()).byteLength).toBe(0);
    const car = await fetch(`${base}/ipfs/bafkqaaa`, { headers: { accept: 'application/vnd.ipld.car' } });
    expect(car.status).toBe(200);
    const reader = await CarReader.fromBytes(new Uint8Array(await car.arrayBuffer()));
    expect((await reader.getRoots()).map(String)).toEqual(['bafkqaaa']);
    expect(await collectAll(reader.blocks())).toEqual([]); // identity blocks are never sent
  });

  it('serves a raw block with the spec headers, by Accept or by ?format', async () => {
    for (const [query, accept] of [
      ['', 'application/vnd.ipld.raw'],
      ['?format=raw', 'text/html'],
    ]) {
      const response = await fetch(`${base}/ipfs/${largeCid}${query}`, { headers: { accept } });
      expect(response.status).toBe(200);
      const block = new Uint8Array(await response.arrayBuffer());
      expect(await sha256Matches(largeCid, block)).toBe(true);
      expect(dagPb.decode(block).Links).toHaveLength(3);
      const h = response.headers;
      expect(h.get('content-type')).toBe('application/vnd.ipld.raw');
      expect(h.get('content-disposition')).toBe(`attachment; filename="${largeCid}.bin"`);
      expect(h.get('x-content-type-options')).toBe('nosniff');
      expect(h.get('etag')).toBe(`"${largeCid}.raw"`);
      expect(h.get('cache-control')).toBe('public, max-age=29030400, immutable');
      expect(h.get('x-ipfs-roots')).toBe(largeCid.toString());
      expect(h.get('vary')).toMatch(/accept/i);
      expect(h.get('content-location')).toBe(query ? null : `/ipfs/${largeCid}?format=raw`);
    }
    // node:http, since fetch turns If-None-Match into an uncached request (Cache-Control: no-cache).
    const status = await new Promise<number | undefined>((resolve, reject) => {
      get(
        `${base}/ipfs/${largeCid}?format=raw`,
        { headers: { 'if-none-match': `"${largeCid}.raw"` } },
        (res) => {
          res.resume();
          resolve(res.statusCode);
        },
      ).on('error', reject);
    });
    expect(status).toBe(304);
  });

  it('serves a CARv1 of the whole DAG in depth-first order whose blocks hash to their CIDs', async () => {
    const response = await fetch(`${base}/ipfs/${largeCid}`, {
      headers: { accept: 'application/vnd.ipld.car; version=1; order=dfs; dups=n' },
    });
    expect(response.status).toBe(200);
    const h = response.headers;
    expect(h.get('content-type')).toBe('application/vnd.ipld.car; version=1; order=dfs; dups=n');
    expect(h.get('content-disposition')).toBe(`attachment; filename="${largeCid}.car"`);
    expect(h.get('x-content-type-options')).toBe('nosniff');
    expect(h.get('etag')).toMatch(new RegExp(`^"${largeCid}\\.car\\.`));
    expect(h.get('cache-control')).toBe('public, max-age=29030400, immutable');
    const bytes = new Uint8Array(await response.arrayBuffer());
    const iterator = await CarBlockIterator.fromBytes(bytes);
    expect((await iterator.getRoots()).map(String)).toEqual([largeCid.toString()]);
    const blocks = await collectAll(iterator);
    expect(blocks).toHaveLength(4);
    for (const block of blocks) expect(await sha256Matches(block.cid, block.bytes)).toBe(true);
    // Depth-first: the root, then its links in order; the leaves' Data joined are the file.
    expect(blocks[0].cid.equals(largeCid)).toBe(true);
    const links = dagPb.decode(blocks[0].bytes).Links.map((l) => l.Hash.toString());
    expect(blocks.slice(1).map((b) => b.cid.toString())).toEqual(links);
    const version = (await CarReader.fromBytes(bytes)).version;
    expect(version).toBe(1);

    const rootOnly = await fetch(`${base}/ipfs/${largeCid}?format=car&dag-scope=block`);
    const scoped = await collectAll(
      await CarBlockIterator.fromBytes(new Uint8Array(await rootOnly.arrayBuffer())),
    );
    expect(scoped.map((b) => b.cid.toString())).toEqual([largeCid.toString()]);
    expect(rootOnly.headers.get('etag')).not.toBe(h.get('etag'));
  });

  it('cuts a CAR short when a block below the root is missing, rather than completing it elsewhere', async () => {
    const root = dagPb.decode((await content.block(largeCid))!);
    const withheld = root.Links[1].Hash;
    const read = async (cid: CID) => (cid.equals(withheld) ? null : content.block(cid));
    const chunks: Uint8Array[] = [];
    await expect(
      (async () => {
        for await (const chunk of dagCar(largeCid, read, { scope: 'all', duplicates: false }))
          chunks.push(chunk);
      })(),
    ).rejects.toThrow(NotFoundError);
    // What was sent before the gap is a valid CAR prefix: the header, the root and the first leaf.
    const sent = await collectAll(await CarBlockIterator.fromBytes(Buffer.concat(chunks)));
    expect(sent.map((b) => b.cid.toString())).toEqual([largeCid.toString(), root.Links[0].Hash.toString()]);
  });

  it('answers HEAD with the headers and no body', async () => {
    const response = await fetch(`${base}/ipfs/${envelopeCid}?format=car`, { method: 'HEAD' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/vnd\.ipld\.car; version=1/);
    expect((await response.arrayBuffer()).byteLength).toBe(0);
  });

  it('answers 404 when the root block is absent, raw or CAR', async () => {
    const absent = CID.createV0(await sha256.digest(new TextEncoder().encode('never stored')));
    for (const format of ['raw', 'car']) {
      const response = await fetch(`${base}/ipfs/${absent}?format=${format}`);
      expect(response.status).toBe(404);
    }
  });

  it.each([
    ['/ipfs/not-a-cid?format=raw', 'a bad CID'],
    ['/ipfs/bafkqacb4onrxe2lqoq7a?format=raw', 'an identity CID that echoes bytes'],
    [`/ipfs/{cid}?format=tar`, 'an unsupported format'],
    [`/ipfs/{cid}?format=car&car-version=2`, 'an unsupported CAR version'],
    [`/ipfs/{cid}?format=car&entity-bytes=0:10`, 'entity-bytes'],
    [`/ipfs/{cid}?format=car&dag-scope=everything`, 'an unknown dag-scope'],
  ])('answers 400 for %s (%s)', async (url, _what) => {
    const response = await fetch(`${base}${url.replace('{cid}', envelopeCid.toString())}`);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ errors: [{ extensions: { code: 'BAD_REQUEST' } }] });
  });

  it('in strict mode answers 400 to a request with no Accept or format; otherwise the whole file', async () => {
    const lenient = await fetch(`${base}/ipfs/${envelopeCid}`);
    expect(lenient.status).toBe(200);
    expect(lenient.headers.get('content-type')).toBe('application/octet-stream');
    expect(lenient.headers.get('content-disposition')).toBe('attachment');
    expect(Buffer.from(await lenient.arrayBuffer()).equals(Buffer.from(envelope))).toBe(true);
    api.strict = true;
    for (const accept of ['*/*', 'application/octet-stream', 'text/html']) {
      const strict = await fetch(`${base}/ipfs/${envelopeCid}`, { headers: { accept } });
      expect(strict.status).toBe(400);
    }
    const asked = await fetch(`${base}/ipfs/${envelopeCid}`, {
      headers: { accept: 'application/vnd.ipld.raw' },
    });
    expect(asked.status).toBe(200);
  });
});

async function collectAll<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}
