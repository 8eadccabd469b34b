import { CID } from 'multiformats/cid';
import type { Logger } from '../logger.js';
import { Wakeup } from '../wakeup.js';
import type { ContentStore } from './content-store.js';
import type { Pinner } from './kubo-pinner.js';
import type { PinOutboxStore, PinOutcome } from './pin-outbox-store.js';

export interface PinQueueOptions {
  outbox: PinOutboxStore;
  /** Where the objects' bytes are read from (this node's blockstore). */
  content: ContentStore;
  pinner: Pinner;
  /** Objects claimed per round; each round's rows stay locked while Kubo is asked. */
  batchSize: number;
  /** Idle poll interval (retries come due); new objects wake the queue directly. */
  intervalMs: number;
  /** How long one pin request may take before it counts as failed. */
  requestTimeoutMs: number;
  logger: Logger;
}

/**
 * Drains the pin outbox into Kubo: claims due objects (replicas of one node claim disjoint rows),
 * pins each, and lets the outbox delete what Kubo holds and back off the rest. The outbox is the only
 * state, so a restart, a Kubo outage or a crash mid-round just resumes.
 */
export class PinQueue {
  private running = false;
  private loop?: Promise<void>;
  private readonly wakeup = new Wakeup();
  private readonly idle = new Set<() => void>();

  constructor(private readonly options: PinQueueOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  notify(): void {
    this.wakeup.notify();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wakeup.notify();
    await this.loop;
  }

  /** Resolves once nothing is due (tests); objects backing off after a failure are not waited for. */
  drained(): Promise<void> {
    return new Promise((resolve) => {
      this.idle.add(resolve);
      this.notify();
    });
  }

  private async run(): Promise<void> {
    while (this.running) {
      let claimed = 0;
      try {
        claimed = await this.options.outbox.claimDue(this.options.batchSize, (cids) => this.pinAll(cids));
      } catch (error) {
        this.options.logger.warn('pin outbox round failed; will retry', { error: (error as Error).message });
      }
      if (claimed > 0) continue;
      for (const resolve of this.idle) resolve();
      this.idle.clear();
      if (!this.running) break;
      await this.wakeup.sleep(this.options.intervalMs);
    }
    for (const resolve of this.idle) resolve();
  }

  private async pinAll(cids: string[]): Promise<PinOutcome[]> {
    const outcomes: PinOutcome[] = [];
    for (const text of cids) {
      try {
        const cid = CID.parse(text);
        const bytes = await this.options.content.get(cid);
        await this.options.pinner.pin(cid, bytes, AbortSignal.timeout(this.options.requestTimeoutMs));
        outcomes.push({ cid: text, pinned: true });
      } catch (error) {
        const message = (error as Error).message;
        this.options.logger.warn('pinning to Kubo failed; will retry', { cid: text, error: message });
        outcomes.push({ cid: text, pinned: false, error: message });
      }
    }
    return outcomes;
  }
}
