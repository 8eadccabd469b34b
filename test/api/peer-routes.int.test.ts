import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { CID } from 'multiformats/cid';
import { sha256 } from 'multiformats/hashes/sha2';
import { peerRoutes } from '../../src/api/peer-routes.js';
import { gatewayBlockSource } from '../../src/export/gateway-block-source.js';
import { readVerifiedFile } from '../../src/export/verified-file.js';
import { silentLogger } from '../../src/logger.js';
import type { ContentStore } from '../../src/storage/content-store.js';
import { openContentStore } from '../../src/storage/helia-content-store.js';

let dir: string;
let content: ContentStore;
let server: Server;
let base: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'omnichart-gateway-'));
  content = await openContentStore({ blockstoreDir: path.join(dir, 'blocks') });
  const app = express().use(
    peerRoutes(
      {
        nodeInfo: () => ({ relayerAddress: '', chainId: '1', contractAddress: '' }),
        localContent: async (cid) => ((await content.has(cid)) ? content.get(cid) : null),
        localBlock: (cid) => content.block(cid),
      },
      silentLogger,
    ),
  );
  server = createServer(app);
  server.keepAliveTimeout = 60_000; // the tests' own fetches reuse one connection across pauses
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await content.close();
  await rm(dir, { recursive: true, force: true });
});

describe('GET /ipfs/:cid as a trustless gateway', () => {
  it('serves one raw block that hashes to its CID when asked for application/vnd.ipld.raw', async () => {
    const bytes = new TextEncoder().encode('{"v":1,"hello":"gateway"}');
    const cid = await content.put(bytes);
    for (const [query, accept] of [
      ['?format=raw', '*/*'],
      ['', 'application/vnd.ipld.raw'],
    ]) {
      const response = await fetch(`${base}/ipfs/${cid}${query}`, { headers: { accept } });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/vnd.ipld.raw');
      const block = new Uint8Array(await response.arrayBuffer());
      expect(Buffer.from((await sha256.digest(block)).digest)).toEqual(Buffer.from(cid.multihash.digest));
      expect(Buffer.from(block).equals(Buffer.from(bytes))).toBe(false); // a dag-pb node, not the file
    }
    // Without either, the whole file as before.
    const whole = await fetch(`${base}/ipfs/${cid}`);
    expect(whole.headers.get('content-type')).toBe('application/octet-stream');
    expect(new Uint8Array(await whole.arrayBuffer())).toEqual(bytes);
  });

  it('lets a client walk a multi-block file block by block to the same bytes', async () => {
    const bytes = new Uint8Array(700_000).map((_, i) => (i * 31) % 251);
    const cid = await content.put(bytes);
    const root = await fetch(`${base}/ipfs/${cid}?format=raw`);
    expect((await root.arrayBuffer()).byteLength).toBeLessThan(1_000); // links only: 3 leaves
    expect(await readVerifiedFile(gatewayBlockSource(base), cid)).toEqual(bytes);
  });

  it('answers 400 for a bad CID and 404 for an absent one, raw or not', async () => {
    const absent = CID.createV0(await sha256.digest(new TextEncoder().encode('never stored')));
    for (const query of ['?format=raw', '']) {
      expect((await fetch(`${base}/ipfs/not-a-cid${query}`)).status).toBe(400);
      const missing = await fetch(`${base}/ipfs/${absent}${query}`);
      expect(missing.status).toBe(404);
      expect(await missing.json()).toEqual({
        errors: [{ message: 'not held here', extensions: { code: 'NOT_FOUND' } }],
      });
    }
  });
});
