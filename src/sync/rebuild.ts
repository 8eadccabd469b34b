import type { Logger } from '../logger.js';
import type { CacheStateStore } from '../storage/cache-state-store.js';
import type { ChainCursorStore } from '../storage/chain-cursor-store.js';
import { EVENTS_CURSOR } from './chain-sync.js';

/** What deciding on, and tracking, a rebuild reads and writes. */
export interface RebuildStores {
  cursors: ChainCursorStore;
  cache: CacheStateStore;
}

/** Present while a rebuild runs: the chain head it must reach before the node serves. */
const REBUILD_TARGET = 'rebuild-target';
/**
 * Blocks per range while rebuilding. The cursor moves after each range is applied, so an interrupted
 * rebuild redoes at most one range; small ranges keep that redo short (one eth_getLogs each).
 */
export const REBUILD_BLOCK_RANGE = 200;

export interface RebuildProgress {
  /** The chain head the rebuild replays to. */
  targetBlock: number;
  /** The last block whose events are applied (-1 before any). */
  cursor: number;
  /** Share of the blocks between the deployment and the target applied, 0..1. */
  fraction: number;
  recordVersions: RebuildCounts;
}

/** While running, counted as events are applied; in the summary, what the cache holds at the end. */
export interface RebuildCounts {
  /** Versions indexed from their envelope. */
  adopted: number;
  /** Versions whose envelope no blockstore or peer had: not served, named in the log. */
  missing: number;
  /** Versions refused by the adoption checks (kept in the record quarantine). */
  refused: number;
}

/** What a finished rebuild reports. */
export interface RebuildSummary extends RebuildProgress {
  seconds: number;
}

/** The part of ChainSync a rebuild drives. */
export interface RebuildSync {
  catchUp(): Promise<void>;
  lag(head?: number): { cursor: number };
}

/**
 * Decides whether this start is a rebuild and tracks it. A cache is empty when no events were ever
 * applied (no cursor) and none of the cache tables holds a row. The target head is written before any
 * event is applied, so a rebuild killed midway is still a rebuild at the next start, and resumes from
 * the cursor (which only moves after a range's state is committed; handlers are idempotent).
 */
export class CacheRebuild {
  private target: number | null = null;
  private fromBlock = 0;
  private startedAt = 0;
  readonly counts: RebuildCounts = { adopted: 0, missing: 0, refused: 0 };

  constructor(
    private readonly options: {
      stores: RebuildStores;
      /** The chain head now. */
      chainHead: () => Promise<number>;
      /** Where the contract's events start (progress is counted from here); default 0. */
      deploymentBlock?: number;
      logger: Logger;
    },
  ) {}

  /**
   * Call before the chain sync starts. Answers 'started' for an empty cache (the target is recorded),
   * 'resumed' when an earlier rebuild did not finish, 'none' otherwise.
   */
  async prepare(options: { force?: boolean } = {}): Promise<'started' | 'resumed' | 'none'> {
    const { cursors } = this.options.stores;
    const marker = await cursors.get(REBUILD_TARGET);
    this.fromBlock = this.options.deploymentBlock ?? 0;
    this.startedAt = Date.now();
    if (marker !== null) {
      this.target = marker;
      this.options.logger.info('resuming an interrupted cache rebuild', { targetBlock: this.target });
      return 'resumed';
    }
    if (!options.force && !(await isEmptyCache(this.options.stores))) return 'none';
    this.target = await this.options.chainHead();
    await cursors.set(REBUILD_TARGET, this.target);
    this.options.logger.info('the cache is empty: rebuilding it from the chain and IPFS', {
      targetBlock: this.target,
    });
    return 'started';
  }

  /** Null when no rebuild runs (or it is done). */
  progress(sync: Pick<RebuildSync, 'lag'>): RebuildProgress | null {
    if (this.target === null) return null;
    const cursor = sync.lag().cursor;
    const span = Math.max(1, this.target - this.fromBlock + 1);
    const done = Math.min(span, Math.max(0, cursor - this.fromBlock + 1));
    return {
      targetBlock: this.target,
      cursor,
      fraction: Math.round((done / span) * 1000) / 1000,
      recordVersions: { ...this.counts },
    };
  }

  get running(): boolean {
    return this.target !== null;
  }

  /**
   * Replays events until the cursor reaches the target, then clears the marker. A pass that fails
   * (the chain went away) is retried with backoff: the node is not ready until the rebuild is done.
   */
  async run(sync: RebuildSync, options: { onProgress?: (p: RebuildProgress) => void } = {}) {
    if (this.target === null) return null;
    const target = this.target;
    let delayMs = 500;
    const ticker = options.onProgress && setInterval(() => options.onProgress!(this.progress(sync)!), 2_000);
    try {
      while (sync.lag().cursor < target) {
        try {
          await sync.catchUp();
        } catch (error) {
          this.options.logger.warn('cache rebuild pass failed; retrying', {
            error: (error as Error).message,
          });
          await new Promise((resolve) => setTimeout(resolve, delayMs));
          delayMs = Math.min(delayMs * 2, 30_000);
        }
      }
    } finally {
      if (ticker) clearInterval(ticker);
    }
    // What the cache holds now: a version first held back for a gap and adopted once its predecessor
    // came counts as indexed, not refused.
    const held = await this.options.stores.cache.recordVersionCounts();
    const summary: RebuildSummary = {
      ...this.progress(sync)!,
      recordVersions: { adopted: held.indexed, refused: held.quarantined, missing: this.counts.missing },
      seconds: (Date.now() - this.startedAt) / 1000,
    };
    await this.options.stores.cursors.delete(REBUILD_TARGET);
    this.target = null;
    this.options.logger.info('cache rebuilt', { ...summary });
    return summary;
  }
}

/** No events applied and no cached state: a new node, or one whose database was dropped. */
export async function isEmptyCache(stores: RebuildStores): Promise<boolean> {
  if ((await stores.cursors.get(EVENTS_CURSOR)) !== null) return false;
  return !(await stores.cache.holdsAnyState());
}

/** A rebuild started and not finished (it resumes at the next start). */
export async function isRebuildPending(cursors: ChainCursorStore): Promise<boolean> {
  return (await cursors.get(REBUILD_TARGET)) !== null;
}
