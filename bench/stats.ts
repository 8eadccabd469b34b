import { performance } from 'node:perf_hooks';

export interface RunResult {
  label: string;
  requests: number;
  concurrency: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p95: number;
  p99: number;
}

/** Runs `total` calls of `work` with `concurrency` in flight; latency in milliseconds. */
export async function measure(
  label: string,
  total: number,
  concurrency: number,
  work: (index: number) => Promise<unknown>,
): Promise<RunResult> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < total) {
      const index = next++;
      const t0 = performance.now();
      await work(index);
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
  return {
    label,
    requests: total,
    concurrency,
    seconds,
    perSecond: total / seconds,
    p50: pct(50),
    p95: pct(95),
    p99: pct(99),
  };
}

export function printResults(
  title: string,
  rows: RunResult[],
  baseline?: Map<string, RunResult>,
  unit: 'ms' | 'µs' = 'ms',
): void {
  if (title) console.log(`\n${title}`);
  console.log(
    `operation                        conc  requests       req/s   p50 ${unit}   p95 ${unit}   p99 ${unit}   vs baseline (req/s)`,
  );
  for (const row of rows) {
    const base = baseline?.get(`${row.concurrency}`);
    const ratio = base
      ? `${(row.perSecond / base.perSecond).toFixed(3)} (${base.perSecond.toFixed(0)}/s)`
      : '';
    console.log(
      `${row.label.padEnd(32)} ${String(row.concurrency).padStart(4)} ${String(row.requests).padStart(9)} ` +
        `${row.perSecond.toFixed(1).padStart(11)} ${row.p50.toFixed(2).padStart(8)} ${row.p95.toFixed(2).padStart(8)} ` +
        `${row.p99.toFixed(2).padStart(8)}   ${ratio}`,
    );
  }
}
