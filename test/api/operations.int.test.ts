import { mkdtemp, rm } from 'node:fs/promises';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import os from 'node:os';
import path from 'node:path';
import { ADD_RECORD, OmnichartClient } from '../../examples/client.js';
import { createNode, type OmnichartNode } from '../../src/app.js';
import { buildConfig } from '../../src/config.js';
import { recordingLogger } from '../helpers/recording-logger.js';
import { createTestDatabase, stopTestDatabaseServer } from '../helpers/test-database.js';
import { signIn, type TestNode } from '../helpers/test-node.js';
import { waitFor } from '../helpers/wait-for.js';

const ALLOWED_ORIGIN = 'https://app.example.org';

const observation = {
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
  valueQuantity: { value: 64, unit: 'beats/minute', system: 'http://unitsofmeasure.org', code: '/min' },
};

/** The value of one sample in Prometheus text, e.g. sample(text, 'x_count', {a: 'b'}); 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(match[3]);
  }
  return 0;
}

function labelValues(text: string, name: string, label: string): string[] {
  const values = new Set<string>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const match = new RegExp(`${label}="([^"]*)"`).exec(line);
    if (match) values.add(match[1]);
  }
  return [...values];
}

describe('operations: readiness parts, metrics, request ids, security headers, CORS', () => {
  const logger = recordingLogger();
  let node: OmnichartNode;
  let dataDir: string;
  let database: { url: string; drop(): Promise<void> };
  let origin: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'omnichart-ops-'));
    database = await createTestDatabase();
    const config = buildConfig({
      dataDir,
      http: { port: 0, corsOrigins: [ALLOWED_ORIGIN] },
      database: { url: database.url },
      keys: { passphrase: 'test-node-passphrase' },
      chain: { anchorIntervalMs: 50, maxAnchorBacklogSeconds: 1 },
      logLevel: 'debug',
    });
    node = await createNode(config, logger);
    origin = node.url.replace(/\/graphql$/, '');
  });

  afterAll(async () => {
    await node?.close();
    await database?.drop();
    await rm(dataDir, { recursive: true, force: true });
    await stopTestDatabaseServer();
  });

  const post = (query: string, headers: Record<string, string> = {}, operationName?: string) =>
    fetch(node.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ query, operationName }),
    });
  const scrape = async () => {
    const response = await fetch(`${origin}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return response.text();
  };
  const readyz = async () => {
    const response = await fetch(`${origin}/readyz`);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it('gives every request an id: a fresh UUID, the caller’s when it is a safe token, and logs it', async () => {
    const fresh = await fetch(`${origin}/healthz`);
    expect(fresh.headers.get('x-request-id')).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    const other = await fetch(`${origin}/healthz`);
    expect(other.headers.get('x-request-id')).not.toBe(fresh.headers.get('x-request-id'));

    const echoed = await post('query TraceMe { __typename }', { 'x-request-id': 'trace-2026.12:01_a' });
    expect(echoed.status).toBe(200);
    expect(echoed.headers.get('x-request-id')).toBe('trace-2026.12:01_a');

    for (const unsafe of ['has space', 'a'.repeat(65), '"quoted"', 'x;y=1', '']) {
      const replaced = await fetch(`${origin}/healthz`, { headers: { 'x-request-id': unsafe } });
      const id = replaced.headers.get('x-request-id');
      expect(id).not.toBe(unsafe);
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
    }

    // Written inside Apollo, after the body parser: the scope survived it.
    await waitFor(() =>
      logger.entries.some(
        (e) => e.message === 'http request' && e.fields?.requestId === 'trace-2026.12:01_a',
      ),
    );
    const lines = logger.entries.filter((e) => e.fields?.requestId === 'trace-2026.12:01_a');
    expect(lines.map((e) => e.message).sort()).toEqual(['graphql operation', 'http request']);
    expect(lines.find((e) => e.message === 'graphql operation')?.fields).toMatchObject({
      operationType: 'query',
      operationName: 'TraceMe',
    });
    // Lines of other requests do not carry this id.
    expect(logger.entries.filter((e) => e.message === 'graphql operation' && !e.fields?.requestId)).toEqual(
      [],
    );
  });

  it('gives each graphql-ws operation its connection and operation ids in the log scope', async () => {
    let next = 0;
    const ids = ['ws-op-a', 'ws-op-b'];
    const client = createClient({
      url: node.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      generateID: () => ids[next++],
      // Keep the socket between the two operations, so they share one connection.
      lazyCloseTimeout: 10_000,
    });
    try {
      for (let i = 0; i < 2; i++) {
        await new Promise<void>((resolve, reject) =>
          client.subscribe({ query: '{ __typename }' }, { next: () => {}, error: reject, complete: resolve }),
        );
      }
    } finally {
      await client.dispose();
    }
    const lines = logger.entries.filter((e) => e.message === 'graphql-ws operation');
    expect(lines.map((e) => e.fields?.operationId)).toEqual(ids);
    const [a, b] = lines.map((e) => e.fields?.connectionId);
    expect(a).toMatch(/^[0-9a-f-]{36}$/);
    expect(b).toBe(a);
  });

  it('sends helmet’s headers with a deny-all CSP on JSON and none over Apollo’s own on the landing page', async () => {
    const api = await post('{ __typename }');
    expect(api.headers.get('x-content-type-options')).toBe('nosniff');
    expect(api.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(api.headers.get('referrer-policy')).toBe('no-referrer');
    expect(api.headers.get('content-security-policy')).toBe("default-src 'none';frame-ancestors 'none'");
    expect(api.headers.get('x-powered-by')).toBeNull();
    // Plain http public URL: no HSTS (it would pin browsers to an https that does not exist).
    expect(api.headers.get('strict-transport-security')).toBeNull();

    const landing = await fetch(node.url, { headers: { accept: 'text/html' } });
    expect(landing.status).toBe(200);
    expect(landing.headers.get('content-type')).toMatch(/text\/html/);
    expect(landing.headers.get('content-security-policy')).toBeNull();
    expect(landing.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await landing.text();
    expect(html).toMatch(/<meta http-equiv="Content-Security-Policy"[^>]*nonce-/);
  });

  it('answers CORS for the allowlisted origin only, preflight included', async () => {
    const preflight = (from: string) =>
      fetch(node.url, {
        method: 'OPTIONS',
        headers: {
          origin: from,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type,authorization',
        },
      });
    const allowed = await preflight(ALLOWED_ORIGIN);
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(ALLOWED_ORIGIN);
    expect(allowed.headers.get('access-control-allow-methods')).toContain('POST');
    expect(allowed.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');

    const refused = await preflight('https://evil.example.com');
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();

    const call = await post('{ __typename }', { origin: ALLOWED_ORIGIN });
    expect(call.headers.get('access-control-allow-origin')).toBe(ALLOWED_ORIGIN);
    expect(call.headers.get('access-control-expose-headers')).toBe('X-Request-Id');
    const foreign = await post('{ __typename }', { origin: 'https://evil.example.com' });
    expect(foreign.status).toBe(200);
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('counts requests by operation, errors by code, and exposes backlogs and process figures', async () => {
    const labels = { operation_type: 'query', operation_name: 'MetricsProbe' };
    const before = await scrape();
    const countBefore = sample(before, 'omnichart_graphql_request_duration_seconds_count', labels);
    const validationBefore = sample(before, 'omnichart_graphql_errors_total', {
      code: 'GRAPHQL_VALIDATION_FAILED',
    });
    for (let i = 0; i < 7; i++) expect((await post('query MetricsProbe { __typename }')).status).toBe(200);
    await post('query Broken { noSuchField }');
    await post('query { me { address } }', { authorization: 'Bearer not-a-session-token-at-all' });

    const after = await scrape();
    expect(sample(after, 'omnichart_graphql_request_duration_seconds_count', labels)).toBe(countBefore + 7);
    expect(
      sample(after, 'omnichart_graphql_request_duration_seconds_bucket', { ...labels, le: '+Inf' }),
    ).toBe(countBefore + 7);
    const sum = sample(after, 'omnichart_graphql_request_duration_seconds_sum', labels);
    expect(sum).toBeGreaterThan(0);
    expect(sum).toBeLessThan(7 * 5);
    expect(sample(after, 'omnichart_graphql_errors_total', { code: 'GRAPHQL_VALIDATION_FAILED' })).toBe(
      validationBefore + 1,
    );
    expect(
      sample(after, 'omnichart_graphql_errors_total', { code: 'UNAUTHENTICATED' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(after, 'omnichart_graphql_request_duration_seconds_count', {
        operation_type: 'query',
        operation_name: 'anonymous',
      }),
    ).toBeGreaterThanOrEqual(1);

    const head = (await node.ledger.latestBlock()).number;
    const lagBlocks = sample(after, 'omnichart_indexer_lag_blocks');
    expect(lagBlocks).toBeGreaterThanOrEqual(0);
    expect(lagBlocks).toBeLessThanOrEqual(head);
    expect(after).toMatch(/^omnichart_anchor_queue_depth \d+$/m);
    expect(after).toMatch(/^omnichart_anchor_queue_oldest_age_seconds [\d.]+$/m);
    expect(after).toMatch(/^omnichart_audit_backlog_entries \d+$/m);
    expect(after).toMatch(/^omnichart_indexer_lag_seconds [\d.]+$/m);
    expect(after).toMatch(/^nodejs_eventloop_lag_p99_seconds [\d.e-]+$/m);
    expect(sample(after, 'process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024);
  });

  it('keeps at most 100 operation names however many random ones clients send', async () => {
    const named = (text: string) =>
      labelValues(text, 'omnichart_graphql_request_duration_seconds_count', 'operation_name').filter(
        (n) => n !== 'other' && n !== 'anonymous',
      );
    const other = (text: string) =>
      sample(text, 'omnichart_graphql_request_duration_seconds_count', {
        operation_type: 'query',
        operation_name: 'other',
      });
    const before = await scrape();
    const places = 100 - named(before).length;
    expect(places).toBeGreaterThan(90);
    const names = Array.from({ length: 160 }, (_, i) => `Op${i}_${Math.random().toString(36).slice(2, 10)}`);
    for (let i = 0; i < names.length; i += 20) {
      await Promise.all(names.slice(i, i + 20).map((name) => post(`query ${name} { __typename }`)));
    }
    const text = await scrape();
    expect(named(text).length).toBe(100);
    expect(other(text) - other(before)).toBe(160 - places);
  });

  it('is not ready while a record waits past the anchor backlog bound, and names the blockstore when it fails', async () => {
    const healthy = await readyz();
    expect(healthy.status).toBe(200);
    expect(healthy.body).toMatchObject({
      ready: true,
      failing: [],
      blockstore: 'ok',
      anchorBacklog: { pending: 0 },
    });

    await node.anchorQueue.stop();
    const patient = await signIn({ client: () => new OmnichartClient(node.url) } as TestNode);
    await patient.client.request(ADD_RECORD, { patient: patient.address, resource: observation });
    await new Promise((resolve) => setTimeout(resolve, 1300));
    const backlogged = await readyz();
    expect(backlogged.status).toBe(503);
    expect(backlogged.body).toMatchObject({
      ready: false,
      failing: ['anchorBacklog'],
      chain: 'ok',
      blockstore: 'ok',
    });
    const backlog = backlogged.body.anchorBacklog as { pending: number; oldestAgeSeconds: number };
    expect(backlog.pending).toBe(1);
    expect(backlog.oldestAgeSeconds).toBeGreaterThan(1);
    const text = await scrape();
    expect(sample(text, 'omnichart_anchor_queue_depth')).toBe(1);
    expect(sample(text, 'omnichart_anchor_queue_oldest_age_seconds')).toBeGreaterThan(1);

    node.anchorQueue.start();
    await node.anchorQueue.drained();
    const drained = await readyz();
    expect(drained.status).toBe(200);
    expect(drained.body.anchorBacklog).toEqual({ pending: 0, oldestAgeSeconds: 0 });

    await node.content.close();
    const broken = await readyz();
    expect(broken.status).toBe(503);
    expect(broken.body).toMatchObject({
      ready: false,
      failing: ['blockstore'],
      blockstore: 'unavailable',
      database: 'ok',
    });
  });
});
