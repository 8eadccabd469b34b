import type { AnchorBacklog } from '../storage/backlog-store.js';
import type { IndexerLag } from '../sync/chain-sync.js';
import type { RebuildProgress } from '../sync/rebuild.js';

/** The parts /readyz names when they keep the node from being ready. */
export type ReadinessPart = 'database' | 'chain' | 'indexer' | 'blockstore' | 'anchorBacklog' | 'rebuild';

export interface ReadinessReport {
  ready: boolean;
  /** This replica's role; a follower's indexer figures are the leader's, read from the shared cursor. */
  role: 'leader' | 'follower';
  database: 'ok' | 'unavailable';
  chain: 'ok' | 'unavailable';
  indexer: IndexerLag;
  /** Chain events waiting for a retry (null when Postgres does not answer). */
  quarantined: number | null;
  blockstore: 'ok' | 'unavailable';
  /** Records not yet anchored and the age of the oldest (null when Postgres does not answer). */
  anchorBacklog: AnchorBacklog | null;
  /** Set while the cache is being rebuilt from the chain (the node is not ready until it is done). */
  rebuild: (RebuildProgress & { state: 'rebuilding' }) | null;
  /** What keeps the node from being ready; empty when ready. */
  failing: ReadinessPart[];
}

export interface ReadinessChecks {
  /** This replica's role; default leader (one process per node). */
  role?: () => 'leader' | 'follower';
  pingDatabase(): Promise<unknown>;
  /** The chain's head block now. */
  chainHead(): Promise<number>;
  indexer: {
    lag(head?: number): IndexerLag;
    readonly maxLagSeconds: number;
    quarantinedCount(): Promise<number>;
  };
  /** Writes and reads back a block; rejects when the blockstore cannot. */
  probeBlockstore(): Promise<unknown>;
  anchorBacklog(): Promise<AnchorBacklog>;
  /** Not ready while the oldest record waiting for its anchor is older than this. */
  maxAnchorBacklogSeconds: number;
  /** How far a cache rebuild has come; null when none runs. */
  rebuild?: () => RebuildProgress | null;
  /** Each check gets this long, so /readyz answers promptly when a dependency hangs; default 2 s. */
  timeoutMs?: number;
}

/**
 * Ready when Postgres, the chain and the blockstore answer, the consent cache is within the lag
 * bound (the same bound past which grant-based access fails closed) and anchoring keeps up: a node
 * that acknowledges writes it cannot anchor or store should get no more traffic.
 */
export async function checkReadiness(checks: ReadinessChecks): Promise<ReadinessReport> {
  const timeoutMs = checks.timeoutMs ?? 2000;
  const [database, head, quarantined, blockstore, backlog] = await Promise.all([
    settle(checks.pingDatabase(), timeoutMs),
    settle(checks.chainHead(), timeoutMs),
    settle(checks.indexer.quarantinedCount(), timeoutMs),
    settle(checks.probeBlockstore(), timeoutMs),
    settle(checks.anchorBacklog(), timeoutMs),
  ]);
  const lag = checks.indexer.lag(head.ok ? head.value : undefined);
  const indexer = { ...lag, lagSeconds: Math.round(lag.lagSeconds * 10) / 10 };
  const anchorBacklog = backlog.ok
    ? { ...backlog.value, oldestAgeSeconds: Math.round(backlog.value.oldestAgeSeconds * 10) / 10 }
    : null;
  const rebuild = checks.rebuild?.() ?? null;
  const failing: ReadinessPart[] = [];
  if (rebuild) failing.push('rebuild');
  if (!database.ok) failing.push('database');
  if (!head.ok) failing.push('chain');
  if (lag.lagSeconds > checks.indexer.maxLagSeconds) failing.push('indexer');
  if (!blockstore.ok) failing.push('blockstore');
  // Unknown when Postgres is down, which is already named.
  if (backlog.ok && backlog.value.oldestAgeSeconds > checks.maxAnchorBacklogSeconds) {
    failing.push('anchorBacklog');
  }
  return {
    ready: failing.length === 0,
    role: checks.role?.() ?? 'leader',
    failing,
    database: database.ok ? 'ok' : 'unavailable',
    chain: head.ok ? 'ok' : 'unavailable',
    blockstore: blockstore.ok ? 'ok' : 'unavailable',
    indexer,
    anchorBacklog,
    quarantined: quarantined.ok ? quarantined.value : null,
    rebuild: rebuild && { state: 'rebuilding', ...rebuild },
  };
}

type Settled<T> = { ok: true; value: T } | { ok: false };

function settle<T>(work: Promise<T>, timeoutMs: number): Promise<Settled<T>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Settled<T>>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false }), timeoutMs);
  });
  const done = work.then(
    (value): Settled<T> => ({ ok: true, value }),
    (): Settled<T> => ({ ok: false }),
  );
  return Promise.race([done, timeout]).finally(() => clearTimeout(timer));
}
