import { createHmac } from 'node:crypto';

/** The key research noise is drawn under, derived from the node's box secret key (never leaves the node). */
export function deriveResearchNoiseKey(boxSecretKey: Uint8Array): Buffer {
  return createHmac('sha256', boxSecretKey).update('omnichart/research-noise/v1').digest();
}

/**
 * Laplace noise of scale 1/ε that is a function of what it is added to: the same figure (organization,
 * cell, true value) always gets the same noise, so asking again and averaging learns nothing.
 * Own code rather than a library: the draw must be keyed (HMAC-SHA256 from node:crypto as the uniform
 * source), which no noise library offers, and the Laplace inverse CDF is one line.
 */
export class KeyedLaplaceNoise {
  constructor(
    private readonly key: Uint8Array,
    readonly epsilon: number,
  ) {
    if (!(epsilon > 0) || !Number.isFinite(epsilon)) throw new Error('epsilon must be a positive number');
  }

  /** The noise for the figure named by `label` (any JSON-able value; include the true value). */
  sample(label: unknown): number {
    const digest = createHmac('sha256', this.key).update(JSON.stringify(label)).digest();
    // 53 random bits → u uniform in (0, 1), never exactly 0 or 1.
    const bits = digest.readUIntBE(0, 6) * 2 ** 5 + (digest[6] >>> 3);
    const u = (bits + 0.5) / 2 ** 53;
    return laplaceQuantile(u, 1 / this.epsilon);
  }

  /** A count with noise: rounded to a whole number, never below 0. */
  noisyCount(trueCount: number, label: unknown): number {
    return Math.max(0, Math.round(trueCount + this.sample([label, trueCount])));
  }
}

/** The inverse CDF of Laplace(0, b) at u in (0, 1). */
export function laplaceQuantile(u: number, b: number): number {
  return u < 0.5 ? b * Math.log(2 * u) : -b * Math.log(2 * (1 - u));
}
