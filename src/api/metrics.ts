import { timingSafeEqual } from 'node:crypto';
import type { ApolloServerPlugin } from '@apollo/server';
import type { RequestHandler } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AnchorBacklog } from '../storage/backlog-store.js';
import type { PinBacklog } from '../storage/pin-outbox-store.js';
import type { IndexerLag } from '../sync/chain-sync.js';
import { sendRefusal } from './http-errors.js';
import { OperationNameLabels } from './operation-names.js';

/** Where the gauges read their values, once per scrape. */
export interface MetricsSources {
  anchorBacklog(): Promise<AnchorBacklog>;
  /** Audit entries not yet in an anchored batch. */
  auditBacklog(): Promise<number>;
  indexerLag(): Promise<IndexerLag>;
  /** Objects not yet pinned to Kubo; absent when no Kubo is configured. */
  pinBacklog?(): Promise<PinBacklog>;
  /** Whether this replica leads (indexer, audit anchorer, training) now. */
  leader?(): boolean;
}

export interface MetricsOptions {
  sources: MetricsSources;
  /** Distinct operation names kept as labels before the rest count as `other`; default 100. */
  maxOperationNames?: number;
}

export interface Metrics {
  readonly registry: Registry;
  /** Observes each GraphQL request over HTTP: latency by operation, errors by code. */
  readonly plugin: ApolloServerPlugin;
}

/** Seconds; GraphQL answers range from a cached `me` (~1 ms) to a bundle import (seconds). */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Error codes are ours, but an unexpected one must not grow the series without bound either. */
const CODE = /^[A-Z][A-Z0-9_]{0,47}$/;

/** A registry per node (tests run several nodes in one process), with Node's process metrics. */
export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const names = new OperationNameLabels(options.maxOperationNames ?? 100);
  const duration = new Histogram({
    name: 'omnichart_graphql_request_duration_seconds',
    help: 'GraphQL requests over HTTP, from parsed body to response, by operation type and name',
    labelNames: ['operation_type', 'operation_name'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const errors = new Counter({
    name: 'omnichart_graphql_errors_total',
    help: 'Errors in GraphQL responses, by extensions.code',
    labelNames: ['code'] as const,
    registers: [registry],
  });
  const sources = options.sources;
  // Depth and age come from one query; both gauges of a scrape share it.
  const backlog = sharedFor(250, () => sources.anchorBacklog());
  const lag = sharedFor(250, () => sources.indexerLag());
  gauge(
    registry,
    'omnichart_anchor_queue_depth',
    'Records written but not yet anchored on chain',
    async () => {
      return (await backlog()).pending;
    },
  );
  gauge(
    registry,
    'omnichart_anchor_queue_oldest_age_seconds',
    'Age of the oldest record waiting for its anchor (0 when none waits)',
    async () => (await backlog()).oldestAgeSeconds,
  );
  gauge(
    registry,
    'omnichart_indexer_lag_blocks',
    'Blocks between the chain head and the last block the event indexer applied',
    async () => (await lag()).lagBlocks ?? Number.NaN,
  );
  gauge(
    registry,
    'omnichart_indexer_lag_seconds',
    'Seconds since the event indexer last reached the chain head',
    async () => (await lag()).lagSeconds,
  );
  gauge(registry, 'omnichart_audit_backlog_entries', 'Audit entries not yet in an anchored batch', () =>
    sources.auditBacklog(),
  );
  const leader = sources.leader;
  if (leader) {
    gauge(
      registry,
      'omnichart_replica_leader',
      '1 while this replica is the leader of its node, else 0',
      async () => (leader() ? 1 : 0),
    );
  }
  const pinBacklog = sources.pinBacklog;
  if (pinBacklog) {
    const pins = sharedFor(250, () => pinBacklog());
    gauge(
      registry,
      'omnichart_pin_queue_depth',
      'Objects stored here and not yet pinned to Kubo',
      async () => {
        return (await pins()).pending;
      },
    );
    gauge(
      registry,
      'omnichart_pin_queue_oldest_age_seconds',
      'Age of the oldest object waiting to be pinned to Kubo (0 when none waits)',
      async () => (await pins()).oldestAgeSeconds,
    );
  }

  const plugin: ApolloServerPlugin = {
    async requestDidStart() {
      const started = process.hrtime.bigint();
      return {
        async willSendResponse({ operation, operationName, response }) {
          const seconds = Number(process.hrtime.bigint() - started) / 1e9;
          duration.observe(
            { operation_type: operation?.operation ?? 'unknown', operation_name: names.label(operationName) },
            seconds,
          );
          if (response.body.kind !== 'single') return;
          for (const error of response.body.singleResult.errors ?? []) {
            const code = error.extensions?.code;
            errors.inc({ code: typeof code === 'string' && CODE.test(code) ? code : 'OTHER' });
          }
        },
      };
    },
  };
  return { registry, plugin };
}

/** A gauge whose value is read when Prometheus scrapes; a source that fails reads as NaN. */
function gauge(registry: Registry, name: string, help: string, read: () => Promise<number>): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    async collect() {
      this.set(await read().catch(() => Number.NaN));
    },
  });
}

/** Calls within `ms` of each other share one result (one query per scrape, not one per gauge). */
function sharedFor<T>(ms: number, load: () => Promise<T>): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | undefined;
  return () => {
    const now = Date.now();
    if (!last || now - last.at > ms) last = { at: now, value: load() };
    return last.value;
  };
}

export interface MetricsAccess {
  /** When set, a scrape must send `Authorization: Bearer <token>`, from anywhere. */
  token?: string;
}

/**
 * GET /metrics in Prometheus' text format. The figures hold no PHI but do tell an outsider about
 * load and backlogs, so without a token only loopback callers (a local agent or sidecar) may read.
 */
export function metricsHandler(metrics: Metrics, access: MetricsAccess): RequestHandler {
  const expected = access.token ? Buffer.from(`Bearer ${access.token}`) : undefined;
  return async (req, res) => {
    if (expected) {
      const given = Buffer.from(req.headers.authorization ?? '');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        res.set('WWW-Authenticate', 'Bearer');
        sendRefusal(res, { code: 'UNAUTHENTICATED', message: 'metrics need the bearer token' });
        return;
      }
    } else if (!isLoopback(req.socket.remoteAddress)) {
      sendRefusal(res, { code: 'FORBIDDEN', message: 'metrics are served to loopback callers only' });
      return;
    }
    res.set('Content-Type', metrics.registry.contentType).send(await metrics.registry.metrics());
  };
}

function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === '::1' || /^(::ffff:)?127\./.test(address);
}
