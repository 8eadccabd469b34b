import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { CID } from 'multiformats/cid';
import { sha256 } from 'multiformats/hashes/sha2';
import * as raw from 'multiformats/codecs/raw';
import { sendRefusal } from '../../src/api/http-errors.js';
import { metricsHandler, createMetrics } from '../../src/api/metrics.js';
import { peerRoutes } from '../../src/api/peer-routes.js';
import { ConflictError, RateLimitedError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';

const held = new TextEncoder().encode('ciphertext');

async function cidOf(bytes: Uint8Array): Promise<CID> {
  return CID.create(1, raw.code, await sha256.digest(bytes));
}

async function serve(app: express.Express): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      server.closeAllConnections(); // fetch keeps connections alive; close() would wait for them
      return new Promise((r) => server.close(() => r()));
    },
  };
}

async function refusal(response: Response) {
  const body = (await response.json()) as { errors: { message: string; extensions: { code: string } }[] };
  return { status: response.status, code: body.errors[0].extensions.code, message: body.errors[0].message };
}

describe('one error shape for every HTTP route', () => {
  let server: Awaited<ReturnType<typeof serve>>;
  let broken: CID;

  beforeAll(async () => {
    const heldCid = await cidOf(held);
    broken = await cidOf(new TextEncoder().encode('the store fails on this one'));
    const app = express();
    app.use(
      peerRoutes(
        {
          nodeInfo: () => ({ relayerAddress: '0x0', chainId: '1', contractAddress: '0x0' }),
          localContent: async (cid) => {
            if (cid.equals(broken)) throw new Error('disk on fire at /secret/path');
            return cid.equals(heldCid) ? held : null;
          },
          localBlock: async () => null,
        },
        silentLogger,
      ),
    );
    app.get('/metrics', metricsHandler(createMetrics({ sources: metricSources }), { token: 'scrape-token' }));
    app.get('/limited', (_req, res) => sendRefusal(res, new RateLimitedError('slow down', 7)));
    app.get('/conflict', (_req, res) => sendRefusal(res, new ConflictError('taken', { field: 'id' })));
    server = await serve(app);
  });

  afterAll(() => server.close());

  it('peer routes answer bad CIDs, absent content and failures with codes and no internals', async () => {
    expect(await refusal(await fetch(`${server.url}/ipfs/not-a-cid`))).toMatchObject({
      status: 400,
      code: 'BAD_REQUEST',
    });
    const absent = await cidOf(new TextEncoder().encode('nobody stored this'));
    expect(await refusal(await fetch(`${server.url}/ipfs/${absent}`))).toMatchObject({
      status: 404,
      code: 'NOT_FOUND',
    });
    const failed = await refusal(await fetch(`${server.url}/ipfs/${broken}`));
    expect(failed).toMatchObject({ status: 500, code: 'INTERNAL_SERVER_ERROR' });
    expect(failed.message).not.toMatch(/secret|disk/);
  });

  it('metrics refusals use the same shape', async () => {
    const response = await fetch(`${server.url}/metrics`);
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
    expect(await refusal(response)).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
  });

  it('a rate-limit refusal carries 429, Retry-After and retryAfter; details pass through', async () => {
    const limited = await fetch(`${server.url}/limited`);
    expect(limited.headers.get('retry-after')).toBe('7');
    const body = (await limited.json()) as { errors: { extensions: Record<string, unknown> }[] };
    expect(limited.status).toBe(429);
    expect(body.errors[0].extensions).toEqual({ code: 'RATE_LIMITED', retryAfter: 7 });
    const conflict = await fetch(`${server.url}/conflict`);
    expect(conflict.status).toBe(409);
    expect(((await conflict.json()) as { errors: unknown[] }).errors[0]).toEqual({
      message: 'taken',
      extensions: { code: 'CONFLICT', field: 'id' },
    });
  });
});

const metricSources = {
  anchorBacklog: async () => ({ pending: 0, oldestAgeSeconds: 0 }),
  auditBacklog: async () => 0,
  indexerLag: async () => ({ cursor: 0, head: 0, lagBlocks: 0, lagSeconds: 0 }),
};
