import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import type { CID } from 'multiformats/cid';
import { peerRoutes } from '../../src/api/peer-routes.js';
import type { Ledger } from '../../src/ledger/chain-client.js';
import { silentLogger } from '../../src/logger.js';
import { collectBytes } from '../../src/storage/bytes.js';
import type { ContentStore } from '../../src/storage/content-store.js';
import { dagCar } from '../../src/storage/dag-car.js';
import { openContentStore } from '../../src/storage/helia-content-store.js';
import { PeerNetwork } from '../../src/sync/peer-network.js';
import { recordingLogger } from '../helpers/recording-logger.js';

let dir: string;
let content: ContentStore;
let file: Uint8Array;
let fileCid: CID;
const servers: Server[] = [];

async function serve(app: express.Express): Promise<string> {
  const server = createServer(app);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

function network(peers: string[], logger = silentLogger) {
  // Content fetches never touch the ledger (it only supplies box keys).
  return new PeerNetwork({ peers, ledger: {} as Ledger, ownRelayer: '0x0', content, logger });
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'omnichart-peer-car-'));
  content = await openContentStore({ blockstoreDir: path.join(dir, 'blocks') });
  file = new Uint8Array(600_000).map((_, i) => (i * 11) % 241);
  fileCid = await content.put(file);
});

afterAll(async () => {
  for (const server of servers) await new Promise((resolve) => server.close(resolve));
  await content.close();
  await rm(dir, { recursive: true, force: true });
});

describe('HTTP peers fetch content as a CAR, verified block by block', () => {
  it('reads a multi-block file from a strict trustless gateway (which refuses requests without Accept)', async () => {
    const strict = await serve(
      express().use(
        peerRoutes(
          {
            nodeInfo: () => ({ relayerAddress: '', chainId: '1', contractAddress: '' }),
            localContent: async (cid) => ((await content.has(cid)) ? content.get(cid) : null),
            localBlock: (cid) => content.block(cid),
            localCar: (cid, options) => content.car(cid, options),
            strict: true,
          },
          silentLogger,
        ),
      ),
    );
    expect((await fetch(`${strict}/ipfs/${fileCid}`)).status).toBe(400);
    const fetched = await network([strict]).fetchContent(fileCid);
    expect(fetched && Buffer.from(fetched).equals(Buffer.from(file))).toBe(true);
  });

  it('refuses a CAR with one altered block and goes on to the next peer', async () => {
    const root = await content.block(fileCid);
    // A CAR under the genuine CIDs whose second leaf has one byte flipped.
    let leaves = 0;
    const tampered = await collectBytes(
      dagCar(
        fileCid,
        async (cid) => {
          const bytes = new Uint8Array((await content.block(cid))!);
          if (!cid.equals(fileCid) && ++leaves === 2) bytes[bytes.length - 1] ^= 0x01;
          return bytes;
        },
        { scope: 'all', duplicates: false },
      ),
    );
    expect(root).not.toBeNull();
    const liar = await serve(
      express().get('/ipfs/:cid', (_req, res) => {
        res.type('application/vnd.ipld.car; version=1').send(Buffer.from(tampered));
      }),
    );
    const honest = await serve(
      express().get('/ipfs/:cid', async (_req, res) => {
        res
          .type('application/vnd.ipld.car; version=1')
          .send(
            Buffer.from(
              await collectBytes((await content.car(fileCid, { scope: 'all', duplicates: false }))!),
            ),
          );
      }),
    );
    const logger = recordingLogger();
    expect(await network([liar], logger).fetchContent(fileCid)).toBeNull();
    const [failure] = logger.entries.filter((e) => e.level === 'warn');
    expect(failure).toMatchObject({
      message: 'content fetch from peer failed',
      fields: { cid: fileCid.toString() },
    });
    expect(String(failure.fields?.error)).toMatch(/^block \S+ /);
    const fetched = await network([liar, honest]).fetchContent(fileCid);
    expect(fetched && Buffer.from(fetched).equals(Buffer.from(file))).toBe(true);
  });
});
