/**
 * The node under the HTTP benchmark, in its own process as `npm start` runs it (a fresh data dir and
 * database), rate limits on as by default, with an overall request budget raised above what the run
 * sends (as a deployment sets it for its load). Prints its URL as a JSON line; over IPC it answers
 * `stages` (the stage timer's means since the last `reset`), `cpu` (this process's CPU time in µs) and
 * `analyze` (see bench/http.bench.ts).
 */
import '../../src/polyfills.js';
import { LIMITS_WITH_BIG_BUDGET, startBenchNode } from '../bench-node.js';

const bench = await startBenchNode('http', { rateLimits: LIMITS_WITH_BIG_BUDGET });
const timer = bench.node.services.records.timer;
console.log(JSON.stringify({ url: bench.node.url }));

process.on('message', (message: string) => {
  if (message === 'reset') {
    timer.reset();
    timer.enabled = true;
    process.send?.({ reset: true });
  } else if (message === 'stages') {
    process.send?.({ stages: timer.snapshot() });
  } else if (message === 'cpu') {
    const { user, system } = process.cpuUsage();
    process.send?.({ cpu: user + system });
  } else if (message === 'analyze') {
    void bench.node.database.dataSource.query('ANALYZE').then(() => process.send?.({ analyzed: true }));
  } else if (message === 'drain') {
    void bench.node.anchorQueue.drained().then(() => process.send?.({ drained: true }));
  }
});
process.on('SIGTERM', () => void bench.close().then(() => process.exit(0)));
