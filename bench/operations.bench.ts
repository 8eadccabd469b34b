/**
 * What the operations layer adds to each GraphQL request: the request-id middleware (+ its log
 * scope and the per-operation debug line) and the metrics plugin, against the same server without
 * them. Two measures:
 * - in process (`executeOperation`, no HTTP): the plugin hooks alone, precise to a microsecond;
 * - over real HTTP (Express + Apollo + JSON body, keep-alive): the whole per-request difference.
 *   Each server variant runs in its own process, so AsyncLocalStorage's promise hooks (process-wide
 *   once a store is used) weigh only on the variant that uses them.
 * Calls alternate between the variants so other load on a shared machine falls on both alike.
 * Run: npm run bench:operations
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import { buildSchema } from 'graphql';
import { createMetrics } from '../src/api/metrics.js';
import { operationLogPlugin } from '../src/api/operation-log.js';
import { requestIdMiddleware } from '../src/api/request-id.js';
import { createLogger, withLogScope } from '../src/logger.js';

const schema = buildSchema('type Query { ping: String }');
const rootValue = { ping: () => 'pong' };
// A logger at `info`: the debug lines are formatted nowhere, as in production.
const logger = withLogScope(createLogger('info'));
const metrics = createMetrics({
  sources: {
    anchorBacklog: async () => ({ pending: 0, oldestAgeSeconds: 0 }),
    auditBacklog: async () => 0,
    indexerLag: async () => ({ cursor: 0, head: 0, lagBlocks: 0, lagSeconds: 0 }),
  },
});
const QUERY = 'query Ping { ping }';

async function apollo(plugins: ApolloServerPlugin[]) {
  const server = new ApolloServer({ schema, rootValue, plugins });
  await server.start();
  return server;
}

async function serve(parts: { requestId: boolean; plugins: boolean }) {
  const server = await apollo(parts.plugins ? [operationLogPlugin(logger), metrics.plugin] : []);
  const app = express();
  if (parts.requestId) app.use(requestIdMiddleware(logger));
  app.use('/graphql', express.json(), expressMiddleware(server));
  const httpServer = http.createServer(app);
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const { port } = httpServer.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    close: async () => {
      await server.stop();
      await new Promise((resolve) => httpServer.close(resolve));
    },
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * Calls `off` and `on` in turn (which goes first alternates) `n` times and compares the median
 * latency of each: interleaving and medians keep other load on a shared machine out of the figure.
 */
async function compare(label: string, n: number, off: () => Promise<unknown>, on: () => Promise<unknown>) {
  const time = async (work: () => Promise<unknown>) => {
    const t0 = performance.now();
    await work();
    return (performance.now() - t0) * 1000;
  };
  for (let i = 0; i < n / 10; i++) await Promise.all([off(), on()]);
  const offs: number[] = [];
  const ons: number[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) {
      offs.push(await time(off));
      ons.push(await time(on));
    } else {
      ons.push(await time(on));
      offs.push(await time(off));
    }
  }
  const a = median(offs);
  const b = median(ons);
  console.log(
    `${label.padEnd(34)} off ${a.toFixed(1).padStart(7)} µs   on ${b.toFixed(1).padStart(7)} µs   ` +
      `cost ${(b - a).toFixed(1).padStart(6)} µs/request (${(((b - a) / a) * 100).toFixed(1)}%)`,
  );
}

async function main() {
  const plain = await apollo([]);
  const observed = await apollo([operationLogPlugin(logger), metrics.plugin]);
  await compare(
    'in process: plugins (no HTTP)',
    20_000,
    () => plain.executeOperation({ query: QUERY }),
    () => observed.executeOperation({ query: QUERY }),
  );
  await plain.stop();
  await observed.stop();

  const off = await child('off');
  const offAgain = await child('off');
  const idOnly = await child('request-id');
  const pluginsOnly = await child('plugins');
  const on = await child('both');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const body = JSON.stringify({ query: QUERY });
  const call = (url: string) => () =>
    new Promise<void>((resolve, reject) => {
      const req = http.request(
        url,
        { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
        (res) => {
          res.resume();
          res.on('end', () =>
            res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`)),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  // Two identical servers: how far apart two processes measure with nothing changed (noise floor).
  await compare('over HTTP: control (off vs off)', 5000, call(off.url), call(offAgain.url));
  await compare('over HTTP: request id only', 5000, call(off.url), call(idOnly.url));
  await compare('over HTTP: plugins only', 5000, call(off.url), call(pluginsOnly.url));
  await compare('over HTTP: request id + plugins', 5000, call(off.url), call(on.url));
  agent.destroy();
  for (const server of [off, offAgain, idOnly, pluginsOnly, on]) await server.close();
  const scraped = await metrics.registry.getSingleMetricAsString(
    'omnichart_graphql_request_duration_seconds',
  );
  const counted = /operation_name="Ping"} (\d+)/.exec(
    scraped.split('\n').find((l) => l.includes('_count')) ?? '',
  );
  console.log(`in-process requests the histogram counted: ${counted?.[1] ?? 0}`);
}

type Variant = 'off' | 'request-id' | 'plugins' | 'both';

/** Starts a server variant in a child process; it prints its URL and lives until its stdin closes. */
function child(variant: Variant): Promise<{ url: string; close(): Promise<void> }> {
  const proc = spawn(process.execPath, [fileURLToPath(import.meta.url), 'serve', variant], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    proc.once('error', reject);
    proc.stdout.once('data', (chunk: Buffer) =>
      resolve({
        url: chunk.toString().trim(),
        close: () =>
          new Promise((done) => {
            proc.once('exit', () => done());
            proc.stdin.end();
          }),
      }),
    );
  });
}

async function serveVariant(variant: Variant) {
  const server = await serve({
    requestId: variant === 'request-id' || variant === 'both',
    plugins: variant === 'plugins' || variant === 'both',
  });
  process.stdout.write(`${server.url}\n`);
  process.stdin.resume();
  process.stdin.once('end', () => void server.close().then(() => process.exit(0)));
}

(process.argv[2] === 'serve' ? serveVariant(process.argv[3] as Variant) : main()).catch((error) => {
  console.error(error);
  process.exit(1);
});
