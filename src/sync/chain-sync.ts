import { ServiceUnavailableError } from '../errors.js';
import type { ChainIndexer } from '../ledger/chain-indexer.js';
import type { LedgerEvent } from '../ledger/chain-events.js';
import type { Ledger } from '../ledger/chain-client.js';
import type { Logger } from '../logger.js';
import type { ChainCursorStore } from '../storage/chain-cursor-store.js';
import type { QuarantinedEvent, SyncQuarantineStore } from '../storage/sync-quarantine-store.js';
import { eventFromJson, eventToJson } from './event-codec.js';

/** The cursor naming the last block whose events are applied (rebuild.ts reads it too). */
export const EVENTS_CURSOR = 'contract-events';
/** The head the leader's last complete pass reached; its write time is when (followers read both). */
export const CAUGHT_UP_CURSOR = 'contract-events-head';
/** Written by a rebuild in progress (rebuild.ts); a follower is not ready while it is there. */
const REBUILD_TARGET = 'rebuild-target';
/** The leader writes its caught-up head at most this often when the head did not move. */
const STAMP_INTERVAL_MS = 1_000;
/** How often a follower waiting for the leader re-reads the shared cursor. */
const FOLLOWER_POLL_MS = 20;
/** Quarantined events retried per pass, so a large quarantine cannot stall the indexer. */
const RETRY_BATCH = 50;
const MAX_ERROR_CHARS = 500;

/** Something that applies chain events to the node's cache; handlers must be idempotent. */
export type ChainEventHandler = (event: LedgerEvent) => Promise<void>;
/** The same, for all events of one scanned range at once (set-based work). */
export type ChainBatchHandler = (events: LedgerEvent[]) => Promise<void>;

export interface ChainSyncOptions {
  cursors: ChainCursorStore;
  quarantine: SyncQuarantineStore;
  ledger: Ledger;
  pollIntervalMs: number;
  logger: Logger;
  /** Oldest catch-up that grant-based access may rely on while the chain cannot be read. */
  maxLagSeconds: number;
  /** First retry of a quarantined event after this long, doubling per attempt; default 5 s. */
  retryDelayMs?: number;
  /** Longest wait between retries of one event; default 15 minutes. */
  maxRetryDelayMs?: number;
  /** A follower asks the leader to catch up now (a NOTIFY); without it the leader's poll comes round. */
  requestCatchUp?: () => void;
  /** How long a follower waits for the leader to apply the chain up to the head; default 5 s. */
  followerWaitMs?: number;
}

/** The leader's progress as a follower reads it from the shared cursors. */
interface SharedProgress {
  applied: number;
  caughtUpHead: number | null;
  /** Seconds since the leader's last complete pass, by the database's clock, at `readAt`. */
  ageSeconds: number | null;
  rebuildPending: boolean;
  readAt: number;
}

/** How far the cache is behind the chain. */
export interface IndexerLag {
  /** Last block whose events are applied (-1 before any). */
  cursor: number;
  head: number | null;
  lagBlocks: number | null;
  /** Seconds since the last pass that reached the head (since start, before the first). */
  lagSeconds: number;
}

/**
 * Follows the contract's events from the last block this node applied (kept in Postgres) and hands
 * each one to the handlers: grants relayed by other nodes, records anchored elsewhere, and so on.
 * An event whose handler throws is quarantined (kept in Postgres, retried with backoff) and the
 * cursor moves on, so one bad event never holds back later blocks.
 * Dropping the cache resets the cursor, so everything is replayed from the deployment block.
 *
 * Of several replicas on one database only the leader indexes (`lead`); the others `follow`: they
 * read how far the leader got from the shared cursors, and a decision that needs a current cache
 * waits until the leader has applied the chain up to the head it sees (fail closed past a bound).
 */
export class ChainSync {
  private indexer?: ChainIndexer;
  private readonly handlers: ChainEventHandler[] = [];
  private readonly batchHandlers: ChainBatchHandler[] = [];
  /** Applying a range and retrying quarantined events never overlap. */
  private exclusive: Promise<unknown> = Promise.resolve();
  private retryTimer: NodeJS.Timeout | null = null;
  private retrying: Promise<unknown> = Promise.resolve();
  private startedAt = new Date();
  private stopped = false;
  private shared: SharedProgress | null = null;
  private refreshing: Promise<SharedProgress> | null = null;
  private followTimer: NodeJS.Timeout | null = null;
  private stamps: Promise<void> = Promise.resolve();
  private lastStamp = { head: -1, at: 0 };

  constructor(private readonly options: ChainSyncOptions) {}

  private get quarantine(): SyncQuarantineStore {
    return this.options.quarantine;
  }

  on(handler: ChainEventHandler): void {
    this.handlers.push(handler);
  }

  onBatch(handler: ChainBatchHandler): void {
    this.batchHandlers.push(handler);
  }

  /**
   * Starts indexing (this process leads). `maxBlockRange`: blocks per applied range (a rebuild uses
   * small ones, see rebuild.ts).
   */
  async start(options: { maxBlockRange?: number } = {}): Promise<void> {
    this.stopFollowing();
    if (this.indexer) return;
    this.stopped = false;
    const saved = await this.options.cursors.get(EVENTS_CURSOR);
    this.startedAt = new Date();
    this.indexer = this.options.ledger.createIndexer({
      fromBlock: saved === null ? undefined : saved + 1,
      maxBlockRange: options.maxBlockRange,
      pollIntervalMs: this.options.pollIntervalMs,
      logger: this.options.logger,
      onEvents: (events, toBlock) => this.apply(events, toBlock),
      onCaughtUp: (head) => this.stamp(head),
    });
    this.indexer.start();
    this.scheduleRetries();
  }

  /** Stops indexing, if this process did, and reads the leader's progress instead. */
  async follow(): Promise<void> {
    await this.stopIndexing();
    this.stopped = false;
    if (this.followTimer) return;
    this.startedAt = new Date();
    await this.refreshShared().catch(() => undefined);
    const poll = () => {
      this.followTimer = setTimeout(() => {
        void this.refreshShared()
          .catch(() => undefined)
          .finally(() => this.followTimer && poll());
      }, this.options.pollIntervalMs);
      this.followTimer.unref();
    };
    poll();
  }

  /** True while this process indexes the chain (the leader). */
  get indexing(): boolean {
    return this.indexer !== undefined;
  }

  /** A follower: the leader's rebuild has not finished (nothing may be served from the cache yet). */
  get leaderRebuilding(): boolean {
    return !this.indexer && this.shared?.rebuildPending === true;
  }

  /**
   * Applies everything up to the chain head now (a revocation made elsewhere counts on the next
   * request); a follower waits until the leader has.
   */
  async catchUp(): Promise<void> {
    if (this.indexer) return this.indexer.catchUp();
    await this.awaitLeader(await this.headBlock());
  }

  /**
   * Catches up, or, when the chain cannot be read, accepts the cache only if its last catch-up is
   * within the lag bound. Otherwise throws SERVICE_UNAVAILABLE: a grant revoked on chain since then
   * would go unnoticed, so decisions that rest on grants fail closed.
   */
  async ensureCurrent(): Promise<void> {
    try {
      if (this.indexer) {
        await this.catchUp();
        return;
      }
    } catch (error) {
      return this.acceptWithinLag(error);
    }
    let head: number;
    try {
      head = await this.headBlock();
    } catch (error) {
      return this.acceptWithinLag(error);
    }
    await this.awaitLeader(head);
  }

  /** The chain cannot be read: the cache is accepted only if its last catch-up is within the bound. */
  private async acceptWithinLag(error: unknown): Promise<void> {
    if (!this.indexer) await this.refreshShared().catch(() => undefined);
    const { lagSeconds } = this.lag();
    const caughtUpOnce = this.indexer ? this.indexer.lastCaughtUp !== null : this.shared?.ageSeconds != null;
    if (caughtUpOnce && lagSeconds <= this.options.maxLagSeconds) return;
    this.options.logger.debug('consent cache is stale and the chain cannot be read', {
      lagSeconds,
      error: (error as Error).message,
    });
    throw new ServiceUnavailableError(
      `the chain cannot be read and this node last caught up with it ${Math.round(lagSeconds)} s ago ` +
        `(over the ${this.options.maxLagSeconds} s bound): access through grants is refused until it catches up`,
    );
  }

  /**
   * A follower waits until the leader's applied cursor reaches `head` (asking it to catch up now).
   * @throws ServiceUnavailableError when no leader gets there within the wait
   */
  private async awaitLeader(head: number): Promise<void> {
    const deadline = Date.now() + (this.options.followerWaitMs ?? 5_000);
    let asked = false;
    for (;;) {
      const shared = await this.refreshShared();
      if (shared.applied >= head) return;
      if (!asked) this.options.requestCatchUp?.();
      asked = true;
      if (Date.now() >= deadline) {
        throw new ServiceUnavailableError(
          `no leader replica has applied the chain up to block ${head} yet (it has ${shared.applied}): ` +
            'access through grants is refused until one does',
        );
      }
      await new Promise((resolve) => setTimeout(resolve, FOLLOWER_POLL_MS));
    }
  }

  /** Reads the leader's progress; concurrent callers share one read. */
  private refreshShared(): Promise<SharedProgress> {
    this.refreshing ??= this.options.cursors
      .readWithAge([EVENTS_CURSOR, CAUGHT_UP_CURSOR, REBUILD_TARGET])
      .then((rows) => {
        const caughtUp = rows.get(CAUGHT_UP_CURSOR);
        this.shared = {
          applied: rows.get(EVENTS_CURSOR)?.blockNumber ?? -1,
          caughtUpHead: caughtUp?.blockNumber ?? null,
          ageSeconds: caughtUp?.ageSeconds ?? null,
          rebuildPending: rows.has(REBUILD_TARGET),
          readAt: Date.now(),
        };
        return this.shared;
      })
      .finally(() => {
        this.refreshing = null;
      });
    return this.refreshing;
  }

  private async headBlock(): Promise<number> {
    return (await this.options.ledger.latestBlock()).number;
  }

  /** The leader records the head each complete pass reached, so followers can tell their lag. */
  private stamp(head: number): void {
    const now = Date.now();
    if (head === this.lastStamp.head && now - this.lastStamp.at < STAMP_INTERVAL_MS) return;
    this.lastStamp = { head, at: now };
    this.stamps = this.stamps
      .then(() => this.options.cursors.set(CAUGHT_UP_CURSOR, head))
      .catch((error: Error) =>
        this.options.logger.debug('caught-up head not recorded', { error: error.message }),
      );
  }

  /** Lag behind `head` (pass a fresh one; otherwise the head the last pass reached is used). */
  lag(head?: number): IndexerLag {
    if (!this.indexer && this.shared) {
      const { applied, caughtUpHead, ageSeconds, readAt } = this.shared;
      const knownHead = head ?? caughtUpHead;
      return {
        cursor: applied,
        head: knownHead,
        lagBlocks: knownHead === null ? null : Math.max(0, knownHead - applied),
        lagSeconds:
          ageSeconds === null
            ? (Date.now() - this.startedAt.getTime()) / 1000
            : ageSeconds + (Date.now() - readAt) / 1000,
      };
    }
    const cursor = (this.indexer?.cursor ?? 0) - 1;
    const caughtUp = this.indexer?.lastCaughtUp;
    const knownHead = head ?? caughtUp?.head ?? null;
    const since = caughtUp?.at ?? this.startedAt;
    return {
      cursor,
      head: knownHead,
      lagBlocks: knownHead === null ? null : Math.max(0, knownHead - cursor),
      lagSeconds: (Date.now() - since.getTime()) / 1000,
    };
  }

  get maxLagSeconds(): number {
    return this.options.maxLagSeconds;
  }

  quarantinedCount(): Promise<number> {
    return this.quarantine.count();
  }

  async stop(): Promise<void> {
    this.stopFollowing();
    await this.stopIndexing();
    await this.stamps;
  }

  private async stopIndexing(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const indexer = this.indexer;
    await indexer?.stop();
    await this.retrying.catch(() => undefined);
    // A range being applied finishes first; then the next leader starts from the cursor it wrote.
    await this.exclusive.catch(() => undefined);
    if (this.indexer === indexer) this.indexer = undefined;
  }

  private stopFollowing(): void {
    if (this.followTimer) clearTimeout(this.followTimer);
    this.followTimer = null;
  }

  /**
   * Retries quarantined events whose time has come (oldest first); those that apply leave
   * quarantine, the others wait longer. Runs on its own timer, so retries happen on a quiet chain too.
   */
  async retryQuarantined(): Promise<void> {
    for (const row of await this.quarantine.due(new Date(), RETRY_BATCH)) {
      if (this.stopped) return;
      // One event at a time, so a range waiting to be applied waits for one retry at most.
      await this.exclusively(() => this.retry(row));
    }
  }

  private async retry(row: QuarantinedEvent): Promise<void> {
    const event = eventFromJson(row.event);
    const error = (await this.applyAll([event])).get(event);
    const attempts = row.attempts + 1;
    if (error === undefined) {
      await this.quarantine.release(row.eventKey);
      this.options.logger.info('quarantined chain event applied on retry', { event: row.eventKey, attempts });
      return;
    }
    await this.quarantine.failedAgain(row.eventKey, messageOf(error), attempts, this.nextAttempt(attempts));
    this.options.logger.debug('quarantined chain event failed again', {
      event: row.eventKey,
      attempts,
      error: messageOf(error),
    });
  }

  private scheduleRetries(): void {
    if (this.stopped) return;
    this.retryTimer = setTimeout(() => {
      this.retrying = this.retryQuarantined()
        .catch((error: Error) =>
          this.options.logger.debug('retrying quarantined chain events failed', { error: error.message }),
        )
        .finally(() => this.scheduleRetries());
    }, this.options.pollIntervalMs);
  }

  private apply(events: LedgerEvent[], toBlock: number): Promise<void> {
    return this.exclusively(async () => {
      const failed = await this.applyAll(events);
      // Quarantine writes must succeed before the cursor moves, or the failed events would be lost.
      for (const [event, error] of failed) await this.hold(event, error);
      await this.options.cursors.set(EVENTS_CURSOR, toBlock);
    });
  }

  /** Runs every handler over `events`; answers the events that failed, with their errors. */
  private async applyAll(events: LedgerEvent[]): Promise<Map<LedgerEvent, unknown>> {
    const failed = new Map<LedgerEvent, unknown>();
    for (const event of events) {
      try {
        for (const handler of this.handlers) await handler(event);
      } catch (error) {
        failed.set(event, error);
      }
    }
    for (const handler of this.batchHandlers) {
      const batch = events.filter((event) => !failed.has(event));
      if (batch.length === 0) break;
      try {
        await handler(batch);
      } catch {
        // Find the event that broke the batch: one at a time, so the others still apply.
        for (const event of batch) {
          try {
            await handler([event]);
          } catch (error) {
            failed.set(event, error);
          }
        }
      }
    }
    return failed;
  }

  private async hold(event: LedgerEvent, error: unknown): Promise<void> {
    const eventKey = keyOf(event);
    const added = await this.quarantine.add({
      eventKey,
      blockNumber: event.blockNumber,
      logIndex: event.logIndex,
      eventType: event.type,
      event: eventToJson(event),
      error: messageOf(error),
      nextAttemptAt: this.nextAttempt(1),
    });
    if (added)
      this.options.logger.warn('chain event quarantined; the indexer moves on and retries it later', {
        event: eventKey,
        type: event.type,
        txHash: event.txHash,
        error: messageOf(error),
      });
  }

  private nextAttempt(attempts: number): Date {
    const { retryDelayMs = 5_000, maxRetryDelayMs = 15 * 60_000 } = this.options;
    return new Date(Date.now() + Math.min(maxRetryDelayMs, retryDelayMs * 2 ** (attempts - 1)));
  }

  private exclusively<T>(work: () => Promise<T>): Promise<T> {
    const run = this.exclusive.catch(() => undefined).then(work);
    this.exclusive = run;
    return run;
  }
}

function keyOf(event: LedgerEvent): string {
  return `${event.blockNumber}:${event.logIndex}`;
}

function messageOf(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, MAX_ERROR_CHARS);
}
