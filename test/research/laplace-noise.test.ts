import { randomBytes } from 'node:crypto';
import { KeyedLaplaceNoise, laplaceQuantile } from '../../src/research/laplace-noise.js';

describe('keyed Laplace noise', () => {
  it('the inverse CDF gives the Laplace quantiles: median 0, quartiles ±b·ln 2, tails b·ln(1/(2p))', () => {
    const b = 2;
    expect(laplaceQuantile(0.5, b)).toBeCloseTo(0, 12);
    expect(laplaceQuantile(0.25, b)).toBeCloseTo(-b * Math.LN2, 12);
    expect(laplaceQuantile(0.75, b)).toBeCloseTo(b * Math.LN2, 12);
    expect(laplaceQuantile(0.005, b)).toBeCloseTo(-b * Math.log(100), 12);
  });

  it('samples follow Laplace(0, 1/ε): mean about 0, mean |x| about 1/ε, variance about 2/ε²', () => {
    const epsilon = 0.5; // b = 2
    const noise = new KeyedLaplaceNoise(randomBytes(32), epsilon);
    const xs = Array.from({ length: 40_000 }, (_, i) => noise.sample(['cell', i]));
    const mean = xs.reduce((a, x) => a + x, 0) / xs.length;
    const meanAbs = xs.reduce((a, x) => a + Math.abs(x), 0) / xs.length;
    const variance = xs.reduce((a, x) => a + (x - mean) ** 2, 0) / xs.length;
    // Standard errors at n = 40,000: mean 0.014, mean |x| 0.01, variance 0.1.
    expect(Math.abs(mean)).toBeLessThan(0.06);
    expect(Math.abs(meanAbs - 2)).toBeLessThan(0.05);
    expect(Math.abs(variance - 8)).toBeLessThan(0.5);
  });

  it('the same figure under the same key always gets the same noise; another key or value does not', () => {
    const key = randomBytes(32);
    const a = new KeyedLaplaceNoise(key, 0.1);
    const b = new KeyedLaplaceNoise(Buffer.from(key), 0.1);
    const other = new KeyedLaplaceNoise(randomBytes(32), 0.1);
    expect(a.noisyCount(42, ['org', 'COVID'])).toBe(b.noisyCount(42, ['org', 'COVID']));
    const draws = new Set(Array.from({ length: 50 }, (_, i) => a.sample(['org', 'COVID', i])));
    expect(draws.size).toBe(50);
    expect(other.sample(['org', 'COVID', 42])).not.toBe(a.sample(['org', 'COVID', 42]));
  });

  it('noisy counts are whole and never negative', () => {
    const noise = new KeyedLaplaceNoise(randomBytes(32), 0.05);
    for (let i = 0; i < 1000; i++) {
      const value = noise.noisyCount(10, ['x', i]);
      expect(Number.isInteger(value)).toBe(true);
      expect(value).toBeGreaterThanOrEqual(0);
    }
  });

  it('refuses a non-positive epsilon', () => {
    expect(() => new KeyedLaplaceNoise(randomBytes(32), 0)).toThrow();
  });
});
