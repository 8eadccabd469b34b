import { performance } from 'node:perf_hooks';

/** Accumulates time per stage of the request path, so benchmarks can show where time goes. */
export class StageTimer {
  private readonly totals = new Map<string, { count: number; ms: number }>();
  enabled = false;

  time<T>(stage: string, work: () => T): T {
    if (!this.enabled) return work();
    const start = performance.now();
    try {
      return work();
    } finally {
      this.add(stage, performance.now() - start);
    }
  }

  async timeAsync<T>(stage: string, work: () => Promise<T>): Promise<T> {
    if (!this.enabled) return work();
    const start = performance.now();
    try {
      return await work();
    } finally {
      this.add(stage, performance.now() - start);
    }
  }

  add(stage: string, ms: number): void {
    const entry = this.totals.get(stage) ?? { count: 0, ms: 0 };
    entry.count += 1;
    entry.ms += ms;
    this.totals.set(stage, entry);
  }

  /** Mean milliseconds per call for each stage since the last reset. */
  snapshot(): Record<string, { count: number; meanMs: number }> {
    return Object.fromEntries(
      [...this.totals].map(([stage, { count, ms }]) => [stage, { count, meanMs: count ? ms / count : 0 }]),
    );
  }

  reset(): void {
    this.totals.clear();
  }
}
