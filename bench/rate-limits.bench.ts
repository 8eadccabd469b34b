/**
 * What the rate limits cost and where they start refusing:
 * - the check alone, in process (one Postgres upsert per point; a refused key answers from memory; the
 *   overall request budget counted in memory and flushed every 250 ms);
 * - the same cheap GraphQL request (`{ __typename }`, anonymous) at a node with limits on and at one
 *   with them off, so the difference is the cost per request over HTTP;
 * - a flood from one client address at the defaults: the request at which the first refusal comes
 *   and how fast refusals are answered.
 *
 *   npm run bench:limits     (embedded Postgres, or DATABASE_URL when set)
 */
import '../src/polyfills.js';
import { DEFAULT_RATE_LIMITS, type RateLimitName } from '../src/config.js';
import { RateLimits } from '../src/auth/rate-limits.js';
import { silentLogger } from '../src/logger.js';
import { BATCH_FLUSH_INTERVAL_MS, RateLimitStore } from '../src/storage/rate-limit-store.js';
import { LIMITS_WITH_BIG_BUDGET, startBenchNode } from './bench-node.js';
import { measure, printResults, type RunResult } from './stats.js';

const micros = (r: RunResult): RunResult => ({
  ...r,
  p50: r.p50 * 1000,
  p95: r.p95 * 1000,
  p99: r.p99 * 1000,
});

async function post(url: string, query: string, variables: Record<string, unknown> = {}): Promise<number> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  await response.arrayBuffer();
  return response.status;
}

const limited = await startBenchNode('limits-on', { rateLimits: { enabled: true } });
const unlimited = await startBenchNode('limits-off');
try {
  // 1. The check in process, on the node's own Postgres.
  const store = new RateLimitStore(limited.node.database.dataSource);
  const limits = new RateLimits({
    rules: {
      ...DEFAULT_RATE_LIMITS,
      relay: { perIp: 1, perAccount: 1_000_000, windowSeconds: 3600 },
      request: { perIp: 0, perAccount: 1_000_000, windowSeconds: 3600 },
    },
    limiter: store.limiter,
    logger: silentLogger,
  });
  const counted = await measure('check: counted (1 upsert)', 5_000, 1, (i) =>
    limits.check('relay', { account: `0x${i.toString(16).padStart(40, '0')}` }),
  );
  await limits.check('relay', { ip: '192.0.2.1' });
  const blocked = await measure('check: refused (in memory)', 20_000, 1, () =>
    limits.check('relay', { ip: '192.0.2.1' }),
  );
  const both = await measure('check: ip + account (2 upserts)', 5_000, 1, (i) =>
    limits.check('relay', {
      ip: `10.0.${i >> 8}.${i & 255}`,
      account: `0x${(i + 1e6).toString(16).padStart(40, '0')}`,
    }),
  );
  const budget = await measure('check: request budget (batched)', 20_000, 1, () =>
    limits.check('request', { account: '0x00000000000000000000000000000000000000b1' }),
  );
  await store.close();
  printResults('rate-limit check in process', [counted, blocked, both, budget].map(micros), undefined, 'µs');

  // 2. Over HTTP: the same request with the budget counted and without. Anonymous requests from one
  // address would hit the budget, so the measured node gets a budget larger than the run.
  const big = await startBenchNode('limits-big', { rateLimits: LIMITS_WITH_BIG_BUDGET });
  // Interleaved rounds, so the load of a shared machine falls on both sides alike; the figure is the
  // median of the per-round p50 differences.
  const rows: RunResult[] = [];
  try {
    for (const concurrency of [1, 8]) {
      const diffs: number[] = [];
      for (let round = 0; round < 6; round += 1) {
        const n = 400;
        const off = await measure(`__typename, limits off`, n, concurrency, () =>
          post(unlimited.node.url, '{ __typename }'),
        );
        const on = await measure(`__typename, limits on`, n, concurrency, () =>
          post(big.node.url, '{ __typename }'),
        );
        diffs.push((on.p50 - off.p50) * 1000);
        if (round === 5) rows.push(off, on);
      }
      diffs.sort((a, b) => a - b);
      const median = (diffs[2] + diffs[3]) / 2;
      console.log(
        `concurrency ${concurrency}: the budget adds ${median.toFixed(0)} µs per request at p50 ` +
          `(median of 6 interleaved rounds; rounds ranged ${diffs[0].toFixed(0)}…${diffs[5].toFixed(0)} µs)`,
      );
    }
  } finally {
    await big.close();
  }
  printResults('one cheap request over HTTP (ms)', rows);

  // 3. A flood from one address at the defaults: where refusals start, and how fast they come.
  console.log('\nflood from one client address at the default limits');
  console.log('limit              window  per IP  first refusal at  served  refused  refusals/s');
  // loginChallenge first: its flood spends part of the address's overall budget, which is then reset
  // (rows only: the node's in-memory view of the budget follows the row from its next flush on).
  const floods: [RateLimitName, string, () => Record<string, unknown>][] = [
    [
      'loginChallenge',
      'mutation ($a: String!) { loginChallenge(address: $a) { nonce } }',
      () => ({ a: `0x${Math.random().toString(16).slice(2).padEnd(40, '0')}` }),
    ],
    ['request', '{ __typename }', () => ({})],
  ];
  for (const [name, query, variables] of floods) {
    const rule = DEFAULT_RATE_LIMITS[name];
    const total = rule.perIp + 500;
    const statuses: string[] = [];
    let firstRefusal = -1;
    let refusedStarted = 0;
    for (let i = 0; i < total; i += 1) {
      const response = await fetch(limited.node.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ query, variables: variables() }),
      });
      const body = (await response.json()) as { errors?: { extensions?: { code?: string } }[] };
      const refused = response.status === 429 || body.errors?.[0]?.extensions?.code === 'RATE_LIMITED';
      if (refused && firstRefusal < 0) {
        firstRefusal = i + 1;
        refusedStarted = performance.now();
      }
      statuses.push(refused ? 'refused' : 'served');
    }
    const refusedCount = statuses.filter((s) => s === 'refused').length;
    const seconds = (performance.now() - refusedStarted) / 1000;
    console.log(
      `${name.padEnd(18)} ${String(rule.windowSeconds).padStart(6)}s ${String(rule.perIp).padStart(7)} ${String(firstRefusal).padStart(17)} ` +
        `${String(total - refusedCount).padStart(7)} ${String(refusedCount).padStart(8)} ${(refusedCount / seconds).toFixed(0).padStart(11)}`,
    );
    // The node adds what it counted of the overall budget at its next flush: let it, then reset.
    await new Promise((resolve) => setTimeout(resolve, 2 * BATCH_FLUSH_INTERVAL_MS));
    await limited.node.database.dataSource.query('DELETE FROM rate_limit');
  }
} finally {
  await limited.close();
  await unlimited.close();
}
