import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import type { DataSource } from 'typeorm';

/** The table every limiter shares; keys carry the limiter's name as a prefix. Created by a migration. */
export const RATE_LIMIT_TABLE = 'rate_limit';
/** Expired rows are deleted this often (the library's own sweep runs per limiter, so it is off). */
const SWEEP_INTERVAL_MS = 5 * 60_000;

/** What a consumed point answers: allowed, or refused with the milliseconds until a point frees up. */
export type Consumed = { allowed: true } | { allowed: false; retryAfterMs: number };

export interface CountingLimiter {
  consume(key: string): Promise<Consumed>;
}

/**
 * Fixed-window counters in the node's own Postgres (`rate-limiter-flexible`'s RateLimiterPostgres on
 * TypeORM's pool), so limits hold across restarts and for every node on one database. A key that is
 * over its limit is also blocked in memory until its window ends, so a flood costs no database trips.
 */
export class RateLimitStore {
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly dataSource: DataSource) {
    this.sweeper = setInterval(() => void this.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  limiter(name: string, points: number, windowSeconds: number): CountingLimiter {
    const limiter = new RateLimiterPostgres({
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
    return {
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
  }

  /** Deletes windows that ended over a minute ago. */
  async sweep(): Promise<void> {
    if (!this.dataSource.isInitialized) return;
    await this.dataSource
      .query(`DELETE FROM ${RATE_LIMIT_TABLE} WHERE expire < $1`, [Date.now() - 60_000])
      .catch(() => undefined);
  }

  close(): void {
    clearInterval(this.sweeper);
  }
}
