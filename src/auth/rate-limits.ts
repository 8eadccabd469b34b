import type { RateLimitName, RateLimitRule } from '../config.js';
import { RateLimitedError, ServiceUnavailableError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Consumed, Counting, CountingLimiter } from '../storage/rate-limit-store.js';

/**
 * Who is asking: the client address, and the account when one is known (signed in, or proven by a
 * signature). A side left out is not counted.
 */
export interface RateLimitSubject {
  ip?: string | null;
  account?: string | null;
}

/** What resolvers and the HTTP layer see of the limits. */
export interface RateLimiting {
  /** Spends a point of `name` for the subject; throws RateLimitedError when a limit is reached. */
  consume(name: RateLimitName, subject: RateLimitSubject): Promise<void>;
  /** Like consume, but answers the refusal instead of throwing it (the HTTP layer turns it into 429). */
  check(name: RateLimitName, subject: RateLimitSubject): Promise<RateLimitedError | null>;
}

export interface RateLimitsOptions {
  rules: Record<RateLimitName, RateLimitRule>;
  /** Builds a counter kept where every node on the database sees it (RateLimitStore.limiter). */
  limiter: (name: string, points: number, windowSeconds: number, counting: Counting) => CountingLimiter;
  logger: Logger;
}

/** What a refusal says, in words a client can show; the numbers come from the config. */
const WHAT: Record<RateLimitName, string> = {
  request: 'requests',
  registerAccount: 'registrations',
  loginChallenge: 'login challenges',
  login: 'logins',
  breakGlass: 'break-glass requests',
  relay: 'relayed transactions',
  importBundle: 'bundle imports',
};

/**
 * Request limits per client address and per account, counted in Postgres so they hold across
 * restarts and replicas. `consume` spends one point on each side that applies and throws
 * RateLimitedError (with `retryAfter` in seconds) when either side is spent.
 */
export class RateLimits implements RateLimiting {
  private readonly limiters = new Map<string, CountingLimiter>();

  constructor(private readonly options: RateLimitsOptions) {
    for (const [name, rule] of Object.entries(options.rules) as [RateLimitName, RateLimitRule][]) {
      // The overall budget is spent on every request, so it is counted in memory between flushes.
      const counting: Counting = name === 'request' ? 'batched' : 'exact';
      for (const [side, points] of [
        ['ip', rule.perIp],
        ['account', rule.perAccount],
      ] as const) {
        const key = `${name}:${side}`;
        if (points > 0) this.limiters.set(key, options.limiter(key, points, rule.windowSeconds, counting));
      }
    }
  }

  async consume(name: RateLimitName, subject: RateLimitSubject): Promise<void> {
    const refusal = await this.check(name, subject);
    if (refusal) throw refusal;
  }

  async check(name: RateLimitName, subject: RateLimitSubject): Promise<RateLimitedError | null> {
    const sides: [CountingLimiter, string][] = [];
    const byIp = this.limiters.get(`${name}:ip`);
    if (byIp && subject.ip) sides.push([byIp, subject.ip]);
    const byAccount = this.limiters.get(`${name}:account`);
    if (byAccount && subject.account) sides.push([byAccount, subject.account.toLowerCase()]);
    let results: Consumed[];
    try {
      results = await Promise.all(sides.map(([limiter, key]) => limiter.consume(key)));
    } catch (error) {
      // Fail closed: without its counters the node cannot tell a flood from normal use.
      this.options.logger.error('rate-limit store failed', { limit: name, error: (error as Error).message });
      throw new ServiceUnavailableError('rate limits cannot be checked right now; try again shortly');
    }
    const waits = results.flatMap((r) => (r.allowed ? [] : [r.retryAfterMs]));
    if (waits.length === 0) return null;
    const rule = this.options.rules[name];
    const retryAfter = Math.max(1, Math.ceil(Math.max(...waits) / 1000));
    return new RateLimitedError(
      `too many ${WHAT[name]}: at most ${describe(rule)} per ${rule.windowSeconds} seconds; retry in ${retryAfter} s`,
      retryAfter,
    );
  }
}

function describe(rule: RateLimitRule): string {
  const parts = [];
  if (rule.perAccount > 0) parts.push(`${rule.perAccount} per account`);
  if (rule.perIp > 0) parts.push(`${rule.perIp} per client address`);
  return parts.join(' and ');
}

/** What a node runs with rate limits turned off (benchmarks): never refuses, touches nothing. */
export const noRateLimits: RateLimiting = {
  consume: async () => undefined,
  check: async () => null,
};
