import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import express from 'express';
import { securityHeaders } from '../../src/api/http-hardening.js';
import { createMetrics, metricsHandler, type MetricsAccess } from '../../src/api/metrics.js';

const sources = {
  anchorBacklog: async () => ({ pending: 3, oldestAgeSeconds: 12.5 }),
  auditBacklog: async () => 42,
  indexerLag: async () => {
    throw new Error('chain is gone');
  },
};

/** A non-loopback address of this machine, to call from somewhere other than 127.0.0.1. */
const external = Object.values(os.networkInterfaces())
  .flat()
  .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;

async function serve(app: express.Express, host: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function metricsApp(access: MetricsAccess) {
  const app = express();
  app.get('/metrics', metricsHandler(createMetrics({ sources }), access));
  return app;
}

describe('/metrics access and scrape-time gauges', () => {
  it('serves loopback callers without a token and reads the gauges when scraped', async () => {
    const server = await serve(metricsApp({}), '127.0.0.1');
    try {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      expect(text).toMatch(/^omnichart_anchor_queue_depth 3$/m);
      expect(text).toMatch(/^omnichart_anchor_queue_oldest_age_seconds 12\.5$/m);
      expect(text).toMatch(/^omnichart_audit_backlog_entries 42$/m);
      // A source that fails reads as NaN (prom-client writes `Nan`; Prometheus parses any case) rather than failing the scrape or showing an old value.
      expect(text).toMatch(/^omnichart_indexer_lag_blocks nan$/im);
    } finally {
      await server.close();
    }
  });

  (external ? it : it.skip)('refuses a caller from another address when no token is set', async () => {
    const server = await serve(metricsApp({}), external!);
    try {
      const response = await fetch(`${server.url}/metrics`);
      expect(response.status).toBe(403);
      expect(await response.text()).not.toMatch(/omnichart_/);
    } finally {
      await server.close();
    }
  });

  it('wants the bearer token from everyone once one is set', async () => {
    const token = 'scrape-token-0123456789abcdef';
    const server = await serve(metricsApp({ token }), '127.0.0.1');
    try {
      expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
      const wrong = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${token}x` } });
      expect(wrong.status).toBe(401);
      expect(wrong.headers.get('www-authenticate')).toBe('Bearer');
      const right = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      expect(right.status).toBe(200);
      expect(await right.text()).toMatch(/^omnichart_audit_backlog_entries 42$/m);
    } finally {
      await server.close();
    }
  });
});

describe('security headers', () => {
  it('sends HSTS only when the node is reached over https', async () => {
    const withHsts = express()
      .use(securityHeaders({ hsts: true }))
      .get('/', (_req, res) => res.json({}));
    const without = express()
      .use(securityHeaders({ hsts: false }))
      .get('/', (_req, res) => res.json({}));
    const a = await serve(withHsts, '127.0.0.1');
    const b = await serve(without, '127.0.0.1');
    try {
      expect((await fetch(a.url)).headers.get('strict-transport-security')).toBe(
        'max-age=31536000; includeSubDomains',
      );
      expect((await fetch(b.url)).headers.get('strict-transport-security')).toBeNull();
    } finally {
      await a.close();
      await b.close();
    }
  });
});
