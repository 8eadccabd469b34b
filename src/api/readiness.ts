import type { IndexerLag } from '../sync/chain-sync.js';

export interface ReadinessReport {
  ready: boolean;
  database: 'ok' | 'unavailable';
  chain: 'ok' | 'unavailable';
  indexer: IndexerLag;
  /** Chain events waiting for a retry (null when Postgres does not answer). */
  quarantined: number | null;
}

export interface ReadinessChecks {
  pingDatabase(): Promise<unknown>;
  /** The chain's head block now. */
  chainHead(): Promise<number>;
  indexer: {
    lag(head?: number): IndexerLag;
    readonly maxLagSeconds: number;
    quarantinedCount(): Promise<number>;
  };
  /** Each check gets this long, so /readyz answers promptly when a dependency hangs; default 2 s. */
  timeoutMs?: number;
}

/**
 * Ready when Postgres and the chain answer and the consent cache is within the lag bound, the
 * same bound past which grant-based access fails closed; a load balancer should route elsewhere.
 */
export async function checkReadiness(checks: ReadinessChecks): Promise<ReadinessReport> {
  const timeoutMs = checks.timeoutMs ?? 2000;
  const [database, head, quarantined] = await Promise.all([
    settle(checks.pingDatabase(), timeoutMs),
    settle(checks.chainHead(), timeoutMs),
    settle(checks.indexer.quarantinedCount(), timeoutMs),
  ]);
  const lag = checks.indexer.lag(head.ok ? head.value : undefined);
  const indexer = { ...lag, lagSeconds: Math.round(lag.lagSeconds * 10) / 10 };
  return {
    ready: database.ok && head.ok && lag.lagSeconds <= checks.indexer.maxLagSeconds,
    database: database.ok ? 'ok' : 'unavailable',
    chain: head.ok ? 'ok' : 'unavailable',
    indexer,
    quarantined: quarantined.ok ? quarantined.value : null,
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
