import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createNode, type OmnichartNode } from '../src/app.js';
import { buildConfig, DEFAULT_RATE_LIMITS, type ConfigOverrides } from '../src/config.js';
import { silentLogger } from '../src/logger.js';

export interface BenchNode {
  node: OmnichartNode;
  /** The node's Postgres, for baselines measured beside it. */
  databaseUrl: string;
  /** The node's data directory (blockstore, keys, chain state), removed by `close`. */
  dataDir: string;
  /** Stops the node and removes its data dir and (with DATABASE_URL) its database. */
  close(): Promise<void>;
}

/**
 * A node for one benchmark run, as `npm start` makes it: a fresh data dir, and a fresh database on
 * the server at DATABASE_URL (dropped afterwards) or, without it, embedded Postgres.
 */
export async function startBenchNode(
  name: string,
  overrides: Omit<Partial<ConfigOverrides>, 'dataDir' | 'database'> = {},
): Promise<BenchNode> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), `omnichart-bench-${name}-`));
  await chmod(dataDir, 0o755);
  const database = await benchDatabase();
  const node = await createNode(
    buildConfig({
      ...overrides,
      dataDir,
      http: { port: 0, ...overrides.http },
      database: { url: database.url },
      keys: { passphrase: 'benchmark-passphrase' },
      // Throughput runs send far more per account than the default budget; bench:limits turns them on.
      rateLimits: { enabled: false, ...overrides.rateLimits },
      logLevel: 'silent',
    }),
    silentLogger,
  );
  let closing: Promise<void> | undefined;
  const bench: BenchNode = {
    node,
    databaseUrl: database.url ?? (node.database.dataSource.options as { url: string }).url,
    dataDir,
    close() {
      openBenchNodes.delete(bench);
      closing ??= (async () => {
        await node.close();
        await database.drop();
        await rm(dataDir, { recursive: true, force: true });
      })();
      return closing;
    },
  };
  openBenchNodes.add(bench);
  closeOnSignals();
  return bench;
}

/** Bench nodes not closed yet: what a benchmark stopped by a signal still has to close. */
const openBenchNodes = new Set<BenchNode>();
let signalsHandled = false;

/**
 * On SIGINT or SIGTERM (Ctrl-C, `timeout`), close every open bench node before exiting, so that no
 * embedded Postgres, bench database or data dir outlives the run. A second signal exits at once.
 * `close` may be called again meanwhile: it closes once.
 */
function closeOnSignals(): void {
  if (signalsHandled) return;
  signalsHandled = true;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      // A script with its own handler for the signal (bench/http/target.ts) closes its node itself.
      if (process.listenerCount(signal) > 0) return;
      const code = 128 + (signal === 'SIGINT' ? 2 : 15);
      process.once(signal, () => process.exit(code));
      console.error(`\n${signal}: closing ${openBenchNodes.size} bench node(s)`);
      void Promise.allSettled([...openBenchNodes].map((bench) => bench.close())).finally(() =>
        process.exit(code),
      );
    });
  }
}

/**
 * Rate limits on as by default, with the overall request budget raised above what a benchmark run
 * sends (as a deployment sets it for its load), so the run measures the limits without hitting them.
 */
export const LIMITS_WITH_BIG_BUDGET: ConfigOverrides['rateLimits'] = {
  enabled: true,
  rules: {
    ...DEFAULT_RATE_LIMITS,
    request: { perIp: 1_000_000, perAccount: 1_000_000, windowSeconds: 60 },
  },
};

/** A fresh database on the server at DATABASE_URL (`drop` removes it); without it no url: embedded. */
export async function benchDatabase(): Promise<{ url?: string; drop: () => Promise<void> }> {
  const base = process.env.DATABASE_URL;
  if (!base) return { url: undefined, drop: async () => {} };
  const name = `omnichart_bench_${Date.now()}`;
  await onServer(base, `CREATE DATABASE ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => onServer(base, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

async function onServer(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
