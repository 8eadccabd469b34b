import { BadUserInputError } from '../errors.js';

/** More records would be decrypted for one operation than the node allows. */
export class TooManyDecryptionsError extends BadUserInputError {
  constructor(limit: number) {
    super(`this operation would decrypt more than ${limit} records; ask for smaller pages`, {
      reason: 'TOO_MANY_DECRYPTIONS',
      limit,
    });
  }
}

/**
 * How many records one GraphQL operation may still decrypt. The document's cost is only an estimate
 * made before execution; this is the hard bound, charged before any envelope is opened.
 */
export class DecryptionBudget {
  private used = 0;

  constructor(readonly limit: number) {}

  get decrypted(): number {
    return this.used;
  }

  /** Charges `count` decryptions, or throws TooManyDecryptionsError and charges nothing. */
  take(count: number): void {
    if (this.used + count > this.limit) throw new TooManyDecryptionsError(this.limit);
    this.used += count;
  }

  /** A subscription's budget starts again with each event it delivers. */
  reset(): void {
    this.used = 0;
  }
}
