import type { Logger } from '../logger.js';
import type { LedgerEvent } from './chain-events.js';

/** What the indexer needs from the chain (the ledger provides it; tests may fake it). */
export interface ChainEventSource {
  /** Current head block number. */
  headBlock(): Promise<number>;
  /** The contract's events in `fromBlock..toBlock` (inclusive), in chain order. */
  events(fromBlock: number, toBlock: number): Promise<LedgerEvent[]>;
}

export interface ChainIndexerOptions {
  source: ChainEventSource;
  /** First block to scan, inclusive. To resume, pass the last `toBlock` handled + 1. */
  fromBlock: number;
  /**
   * Receives each scanned range's events in chain order (possibly none) and the range's last block.
   * Persist `toBlock` as the cursor after handling; a rejection leaves the cursor where it was and the
   * same range is delivered again, so handlers must be idempotent.
   */
  onEvents: (events: LedgerEvent[], toBlock: number) => Promise<void>;
  /** Idle poll interval; default 1000 ms. */
  pollIntervalMs?: number;
  /** Widest eth_getLogs range per call; default 5000 blocks (public RPCs and Besu cap it). */
  maxBlockRange?: number;
  /** Stay this many blocks behind the head; default 0 (local and QBFT chains have final blocks). */
  confirmations?: number;
  /** Longest wait between retries while the chain is unreachable; default 30 s. */
  maxBackoffMs?: number;
  /** Told after every complete pass: the head it reached (followers of a replica read it). */
  onCaughtUp?: (head: number) => void;
  logger: Logger;
}

/**
 * Follows the contract's events from a cursor and hands them over in order, range by range.
 * No reorg handling: the embedded anvil and QBFT (Besu) have immediate finality; on a chain with
 * reorgs set `confirmations` deep enough.
 */
export class ChainIndexer {
  private nextBlock: number;
  private running = false;
  private loop: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private wake: (() => void) | null = null;
  /** The pass in progress, and one queued behind it that later callers share. */
  private current: Promise<void> = Promise.resolve();
  private queued: Promise<void> | null = null;
  private failures = 0;
  private reachedHead: { head: number; at: Date } | null = null;

  constructor(private readonly options: ChainIndexerOptions) {
    if (!Number.isInteger(options.fromBlock) || options.fromBlock < 0) {
      throw new RangeError(`fromBlock must be a block number, got ${options.fromBlock}`);
    }
    this.nextBlock = options.fromBlock;
  }

  /** The next block this indexer will scan (everything before it has been delivered). */
  get cursor(): number {
    return this.nextBlock;
  }

  /**
   * The head the last complete pass reached, and when that head was read (null before the first):
   * the cache holds everything on chain as of `at`. Consent decisions bound how old that may be.
   */
  get lastCaughtUp(): { head: number; at: Date } | null {
    return this.reachedHead;
  }

  /** Polls in the background until stop(); outages are retried with backoff, never thrown. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops polling and waits for a delivery in progress to finish. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
    await this.loop;
    this.loop = null;
    await this.current.catch(() => undefined);
  }

  /**
   * Delivers every event up to the head as of this call, then resolves. Concurrent callers share
   * passes. Rejects (SERVICE_UNAVAILABLE, or the handler's error) when the pass fails.
   */
  catchUp(): Promise<void> {
    if (this.queued) return this.queued;
    const pass = this.current
      .catch(() => undefined)
      .then(() => {
        this.queued = null;
        return this.pass();
      });
    this.queued = pass;
    this.current = pass;
    return pass;
  }

  private async pass(): Promise<void> {
    const { source, onEvents, maxBlockRange = 5000, confirmations = 0 } = this.options;
    const readAt = new Date();
    const head = (await source.headBlock()) - confirmations;
    while (this.nextBlock <= head) {
      const toBlock = Math.min(head, this.nextBlock + maxBlockRange - 1);
      const events = await source.events(this.nextBlock, toBlock);
      await onEvents(events, toBlock);
      this.nextBlock = toBlock + 1;
    }
    this.reachedHead = { head, at: readAt };
    this.options.onCaughtUp?.(head);
  }

  private async run(): Promise<void> {
    const { logger, pollIntervalMs = 1000, maxBackoffMs = 30_000 } = this.options;
    while (this.running) {
      try {
        await this.catchUp();
        if (this.failures > 0) logger.info('chain indexer recovered', { cursor: this.nextBlock });
        this.failures = 0;
      } catch (error) {
        this.failures += 1;
        const fields = {
          error: error instanceof Error ? error.message : String(error),
          failures: this.failures,
          cursor: this.nextBlock,
        };
        // One warning per outage; the retries after it are noise.
        if (this.failures === 1) logger.warn('chain indexer pass failed; retrying', fields);
        else logger.debug('chain indexer pass failed again', fields);
      }
      const delay =
        this.failures === 0 ? pollIntervalMs : Math.min(maxBackoffMs, pollIntervalMs * 2 ** this.failures);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, delay);
      });
      this.wake = null;
    }
  }
}
