import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import type { DataSource } from 'typeorm';

/** The table every limiter shares; keys carry the limiter's name as a prefix. Created by a migration. */
export const RATE_LIMIT_TABLE = 'rate_limit';
/** Expired rows are deleted this often (the library's own sweep runs per limiter, so it is off). */
const SWEEP_INTERVAL_MS = 5 * 60_000;
/** How often batched counters add what they counted to the shared rows. */
export const BATCH_FLUSH_INTERVAL_MS = 250;
/** Keys a batched counter keeps in memory; past it, new keys are counted in Postgres per point. */
const MAX_BATCHED_KEYS = 50_000;

/** What a consumed point answers: allowed, or refused with the milliseconds until a point frees up. */
export type Consumed = { allowed: true } | { allowed: false; retryAfterMs: number };

export interface CountingLimiter {
  consume(key: string): Promise<Consumed>;
}

/**
 * `exact`: every point is an upsert. `batched`: points are counted in memory and added to the shared
 * row every BATCH_FLUSH_INTERVAL_MS, for a limit spent on every request (docs/security.md).
 */
export type Counting = 'exact' | 'batched';

/**
 * Fixed-window counters in the node's own Postgres (`rate-limiter-flexible`'s RateLimiterPostgres on
 * TypeORM's pool), so limits hold across restarts and for every node on one database. A key that is
 * over its limit is also blocked in memory until its window ends, so a flood costs no database trips.
 */
export class RateLimitStore {
  private readonly sweeper: NodeJS.Timeout;
  private readonly flusher: NodeJS.Timeout;
  private readonly batched: BatchedCounter[] = [];

  /** `flushIntervalMs`: how often batched counters are flushed (tests flush by hand). */
  constructor(
    private readonly dataSource: DataSource,
    flushIntervalMs = BATCH_FLUSH_INTERVAL_MS,
  ) {
    this.sweeper = setInterval(() => void this.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
    this.flusher = setInterval(() => void this.flush(), flushIntervalMs);
    this.flusher.unref();
  }

  /** A counter of `points` per window, shared through Postgres; an arrow so it can be passed as is. */
  readonly limiter = (
    name: string,
    points: number,
    windowSeconds: number,
    counting: Counting = 'exact',
  ): CountingLimiter => {
    const limiter = this.postgresLimiter(name, points, windowSeconds);
    const exact: CountingLimiter = {
      async consume(key) {
        try {
          await limiter.consume(key);
          return { allowed: true };
        } catch (error) {
          // The library rejects with a RateLimiterRes for a refusal and with an Error for a store failure.
          if (error instanceof RateLimiterRes) return { allowed: false, retryAfterMs: error.msBeforeNext };
          throw error;
        }
      },
    };
    if (counting === 'exact') return exact;
    const counter = new BatchedCounter(limiter, points, exact);
    this.batched.push(counter);
    return counter;
  };

  /** Adds what the batched counters counted since the last flush to the shared rows. */
  async flush(): Promise<void> {
    await Promise.all(this.batched.map((counter) => counter.flush()));
  }

  private postgresLimiter(name: string, points: number, windowSeconds: number): RateLimiterPostgres {
    return new RateLimiterPostgres({
      storeClient: this.dataSource,
      storeType: 'typeorm',
      tableName: RATE_LIMIT_TABLE,
      tableCreated: true,
      clearExpiredByTimeout: false,
      keyPrefix: name,
      points,
      duration: windowSeconds,
      inMemoryBlockOnConsumed: points + 1,
    });
  }

  /** Deletes windows that ended over a minute ago. */
  async sweep(): Promise<void> {
    if (!this.dataSource.isInitialized) return;
    await this.dataSource
      .query(`DELETE FROM ${RATE_LIMIT_TABLE} WHERE expire < $1`, [Date.now() - 60_000])
      .catch(() => undefined);
  }

  /** Stops the timers and adds what is still counted only in memory (a restart keeps the counts). */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    clearInterval(this.flusher);
    if (this.dataSource.isInitialized) await this.flush().catch(() => undefined);
  }
}

/** One key's window as this node knows it: the shared count at the last flush, plus its own since. */
interface KnownWindow {
  shared: number;
  pending: number;
  endsAt: number;
}

/**
 * A counter spent on every request, counted in memory so a request costs no database round trip
 * (an upsert per request cost 1.1–1.5 ms at one connection: `npm run bench:limits`). The first point
 * of a key in a window is counted in Postgres at once, which also tells the count other nodes (or
 * this node before a restart) have spent; later points are added to the row at the next flush.
 */
class BatchedCounter implements CountingLimiter {
  private readonly windows = new Map<string, KnownWindow>();
  private flushing = false;
  private failure: Error | null = null;

  constructor(
    private readonly limiter: RateLimiterPostgres,
    private readonly points: number,
    private readonly exact: CountingLimiter,
  ) {}

  async consume(key: string): Promise<Consumed> {
    if (this.failure) throw this.failure;
    const now = Date.now();
    const known = this.windows.get(key);
    if (known && known.endsAt > now) {
      if (known.shared + known.pending >= this.points)
        return { allowed: false, retryAfterMs: known.endsAt - now };
      known.pending += 1;
      return { allowed: true };
    }
    if (!known && this.windows.size >= MAX_BATCHED_KEYS) return this.exact.consume(key);
    const counted = await this.limiter.penalty(key, 1);
    this.windows.set(key, { shared: counted.consumedPoints, pending: 0, endsAt: now + counted.msBeforeNext });
    return counted.consumedPoints > this.points
      ? { allowed: false, retryAfterMs: counted.msBeforeNext }
      : { allowed: true };
  }

  async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      const now = Date.now();
      for (const [key, known] of this.windows) {
        // Points of a window that has ended are not carried into the next one.
        if (known.endsAt <= now) {
          this.windows.delete(key);
          continue;
        }
        if (known.pending === 0) continue;
        const points = known.pending;
        known.pending = 0;
        try {
          const counted = await this.limiter.penalty(key, points);
          known.shared = counted.consumedPoints;
          known.endsAt = Date.now() + counted.msBeforeNext;
        } catch (error) {
          known.pending += points;
          this.failure = error as Error;
          return;
        }
      }
      this.failure = null;
    } finally {
      this.flushing = false;
    }
  }
}
