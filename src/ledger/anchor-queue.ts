import { CID } from 'multiformats/cid';
import type { Logger } from '../logger.js';
import { Wakeup } from '../wakeup.js';
import type { AnchorOutboxStore } from '../storage/anchor-outbox-store.js';
import type { Ledger } from './chain-client.js';

export interface AnchorQueueOptions {
  outbox: AnchorOutboxStore;
  ledger: Ledger;
  batchSize: number;
  /** Idle poll interval; writes also wake the queue directly. */
  intervalMs: number;
  logger: Logger;
  /** This replica's presence key: recorded on the rows it signs (see AnchorOutboxStore.claimWaiting). */
  signer: number;
  /** Called with the time one batch took on chain, for benchmarks. */
  onBatch?: (size: number, ms: number) => void;
}

const MAX_BACKOFF_MS = 10_000;

/**
 * Sends outbox rows to the contract in batches (one transaction per batch, one event per record) and
 * marks them anchored. The outbox is the only state, so a restart or a chain outage just resumes it.
 * Every replica of a node runs one; each batch is claimed with SKIP LOCKED, so none is sent twice.
 */
export class AnchorQueue {
  private running = false;
  private loop?: Promise<void>;
  private readonly wakeup = new Wakeup();
  private failures = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: AnchorQueueOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Wakes the queue after a write, so anchoring does not wait for the poll interval. */
  notify(): void {
    this.wakeup.notify();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wakeup.notify();
    await this.loop;
  }

  /** Resolves once the outbox is empty (tests and benchmarks). */
  async drained(): Promise<void> {
    if ((await this.pendingCount()) === 0) return;
    await new Promise<void>((resolve) => {
      this.idleWaiters.push(resolve);
      this.notify();
    });
  }

  async pendingCount(): Promise<number> {
    return this.options.outbox.count();
  }

  private async run(): Promise<void> {
    // Rows are only left in flight by a crash or a failed send: check at start and after failures.
    let resume = true;
    while (this.running) {
      let sent = 0;
      try {
        if (resume) await this.resumeInFlight();
        resume = false;
        sent = await this.sendBatch();
        this.failures = 0;
      } catch (error) {
        resume = true;
        this.failures += 1;
        this.options.logger.warn('anchoring failed; will retry', {
          error: (error as Error).message,
          attempt: this.failures,
        });
      }
      if (sent > 0 && this.failures === 0) continue;
      if (sent === 0 && this.failures === 0) this.releaseIdleWaiters();
      const delay =
        this.failures > 0
          ? Math.min(MAX_BACKOFF_MS, this.options.intervalMs * 2 ** this.failures)
          : this.options.intervalMs;
      if (this.running) await this.wakeup.sleep(delay);
    }
  }

  /**
   * Rows signed before a crash or a failure: mark them if the chain has the transaction, else send
   * them again, unless another replica that still runs signed them (it is still sending them).
   */
  private async resumeInFlight(): Promise<void> {
    const { outbox, signer } = this.options;
    const inFlight = await outbox.inFlight();
    for (const txHash of new Set(inFlight.map((row) => row.txHash!))) {
      const rows = inFlight.filter((row) => row.txHash === txHash);
      const block = await this.options.ledger.transactionBlock(txHash);
      if (block !== null) {
        await outbox.markAnchored(rows, txHash, block);
        continue;
      }
      const signedBy = rows[0].signedBy;
      if (signedBy !== null && signedBy !== signer && (await outbox.signerAlive(signedBy))) continue;
      await outbox.setTransaction(
        rows.map((r) => r.id),
        null,
      );
    }
  }

  private async sendBatch(): Promise<number> {
    const { outbox } = this.options;
    const started = performance.now();
    let claimedIds: string[] = [];
    try {
      const claimed = await outbox.claimWaiting(
        this.options.batchSize,
        this.options.signer,
        (rows, signed) => {
          claimedIds = rows.map((row) => row.id);
          return this.options.ledger.anchorRecords(
            rows.map((row) => ({
              patient: row.patient,
              recordId: row.recordId,
              version: row.version,
              cid: CID.parse(row.cid).bytes,
            })),
            { onSigned: signed },
          );
        },
      );
      if (!claimed) return 0;
      await outbox.markAnchored(claimed.rows, claimed.result.txHash, claimed.result.blockNumber);
      this.options.onBatch?.(claimed.rows.length, performance.now() - started);
      return claimed.rows.length;
    } catch (error) {
      if (claimedIds.length > 0) await outbox.recordFailure(claimedIds, String((error as Error).message));
      throw error;
    }
  }

  private releaseIdleWaiters(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
