import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Wallet } from 'ethers';
import type { Ledger } from '../../src/ledger/chain-client.js';
import { cidOf } from '../../src/storage/helia-content-store.js';
import { cappedFetch, ReplyTooLargeError } from '../../src/sync/capped-fetch.js';
import { PeerNetwork } from '../../src/sync/peer-network.js';
import { recordingLogger } from '../helpers/recording-logger.js';

interface Server {
  base: string;
  close(): Promise<void>;
}

async function serve(handler: http.RequestListener): Promise<Server> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** The ledger must not be consulted for a peer whose /node reply is malformed. */
const untouchableLedger = new Proxy({} as Ledger, {
  get(_target, property) {
    throw new Error(`ledger.${String(property)} used for a malformed peer reply`);
  },
});

describe('a hostile peer cannot stop or poison sync', () => {
  const genuine = new TextEncoder().encode('the envelope every honest node holds');
  const endless = new TextEncoder().encode('content the hostile peer claims to stream');
  const trickled = new TextEncoder().encode('content the hostile peer sends a byte at a time');
  const elsewhere = new TextEncoder().encode('held only by the honest peer');
  let hostile: Server;
  let honest: Server;
  let endlessSent = 0;
  let endlessClosed = false;
  let trickleClosed = false;

  beforeAll(async () => {
    const [genuineCid, endlessCid, trickledCid, elsewhereCid] = await Promise.all([
      cidOf(genuine),
      cidOf(endless),
      cidOf(trickled),
      cidOf(elsewhere),
    ]);
    hostile = await serve((req, res) => {
      if (req.url === '/node') {
        // Every field of the wrong JSON type, one of them carrying text a log must not repeat.
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({ relayerAddress: 12345, chainId: ['1'], contractAddress: { x: 'INJECTED-TEXT' } }),
        );
      } else if (req.url === `/ipfs/${endlessCid}`) {
        // Chunked, no content-length, never ends: only a cap while streaming stops it.
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        const chunk = Buffer.alloc(64 * 1024, 0x41);
        res.on('close', () => (endlessClosed = true));
        const pump = () => {
          while (!res.destroyed) {
            endlessSent += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
        };
        pump();
      } else if (req.url === `/ipfs/${trickledCid}`) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.on('close', () => (trickleClosed = true));
        const timer = setInterval(() => res.write('x'), 50);
        res.on('close', () => clearInterval(timer));
      } else if (req.url === `/ipfs/${genuineCid}`) {
        // Bytes that do not hash to the CID asked for.
        res.end('forged envelope');
      } else {
        // A CID-shaped path answered with a redirect to somewhere else.
        res.writeHead(302, { location: `${honest.base}${req.url}` });
        res.end();
      }
    });
    honest = await serve((req, res) => {
      if (req.url === `/ipfs/${genuineCid}`) res.end(Buffer.from(genuine));
      else if (req.url === `/ipfs/${elsewhereCid}`) res.end(Buffer.from(elsewhere));
      else {
        res.statusCode = 404;
        res.end();
      }
    });
  });

  afterAll(async () => {
    await hostile?.close();
    await honest?.close();
  });

  function network(peers: string[], logger = recordingLogger()) {
    return {
      logger,
      peers: new PeerNetwork({
        peers,
        ledger: untouchableLedger,
        ownRelayer: Wallet.createRandom().address,
        content: { cidOf },
        logger,
        timeoutMs: 1000,
        maxContentBytes: 1024 * 1024,
      }),
    };
  }

  it('ignores a /node reply of the wrong JSON types, logs it once without echoing it, asks no ledger', async () => {
    const { peers, logger } = network([hostile.base]);
    await expect(peers.nodeKeys()).resolves.toEqual([]);
    const warnings = logger.entries.filter((e) => e.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0].message).toMatch(/does not match the protocol/);
    expect(warnings[0].fields?.problem).toMatch(/relayerAddress: invalid_type/);
    expect(JSON.stringify(logger.entries)).not.toContain('INJECTED-TEXT');
  });

  it('aborts an endless chunked body at the cap, and still gets the content from an honest peer', async () => {
    const { peers, logger } = network([hostile.base, honest.base]);
    const started = Date.now();
    await expect(peers.fetchContent(await cidOf(endless))).resolves.toBeNull();
    expect(Date.now() - started).toBeLessThan(5000);
    expect(logger.entries.some((e) => /over the 1048576-byte limit/.test(String(e.fields?.error)))).toBe(
      true,
    );
    // The transfer was cut, not drained: the server saw the connection close.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(endlessClosed).toBe(true);
    const sentAtClose = endlessSent;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(endlessSent).toBe(sentAtClose);

    await expect(peers.fetchContent(await cidOf(genuine))).resolves.toEqual(genuine);
    expect(logger.entries.some((e) => /does not match its CID/.test(e.message))).toBe(true);
  });

  it('gives up on a body that trickles past the whole-fetch timeout', async () => {
    const { peers, logger } = network([hostile.base]);
    const started = Date.now();
    await expect(peers.fetchContent(await cidOf(trickled))).resolves.toBeNull();
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(900);
    expect(took).toBeLessThan(4000);
    expect(logger.entries.some((e) => /within 1000 ms/.test(String(e.fields?.error)))).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(trickleClosed).toBe(true);
  });

  it('does not follow a redirect to content held elsewhere', async () => {
    const { peers } = network([hostile.base]);
    await expect(peers.fetchContent(await cidOf(elsewhere))).resolves.toBeNull();
    // The honest peer itself answers it: only the redirect was refused.
    await expect(network([honest.base]).peers.fetchContent(await cidOf(elsewhere))).resolves.toEqual(
      elsewhere,
    );
  });

  it('cappedFetch refuses a declared content-length over the cap before reading', async () => {
    const big = await serve((_req, res) => {
      res.setHeader('content-length', String(10 * 1024 * 1024));
      res.write('a');
    });
    try {
      await expect(cappedFetch(big.base, { maxBytes: 1024, timeoutMs: 1000 })).rejects.toBeInstanceOf(
        ReplyTooLargeError,
      );
    } finally {
      await big.close();
    }
  });
});
