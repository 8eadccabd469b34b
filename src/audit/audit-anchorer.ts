import type { Ledger } from '../ledger/chain-client.js';
import type { Logger } from '../logger.js';
import type { AuditStore, ChainLink } from '../storage/audit-store.js';
import { merkleRoot } from './merkle.js';

export interface AuditAnchorerOptions {
  store: AuditStore;
  ledger: Pick<Ledger, 'anchorAuditRoots'>;
  intervalMs: number;
  /** Largest batch per patient and anchoring round. */
  maxEntriesPerBatch?: number;
  /** Patients per anchoring round (one transaction); the rest wait for the next round. */
  maxPatientsPerRound?: number;
  logger: Logger;
}

/**
 * Every interval, closes the unanchored audit entries of each patient into a Merkle batch and anchors
 * all the roots in one transaction. A crash before the database update only re-anchors the same root.
 */
export class AuditAnchorer {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(private readonly options: AuditAnchorerOptions) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      void this.flush().catch((error: Error) =>
        this.options.logger.warn('audit anchoring failed; will retry', { error: error.message }),
      );
    }, this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** Anchors everything pending now (one round at a time). */
  flush(): Promise<void> {
    this.running = (this.running ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => this.anchorPending());
    return this.running;
  }

  private async anchorPending(): Promise<void> {
    const { store, ledger } = this.options;
    const limit = this.options.maxEntriesPerBatch ?? 1000;
    // Oldest first: the patients whose unanchored entries have waited longest go in this round, so a
    // flood of new patients' entries cannot keep older ones from ever being anchored.
    const patients = await store.patientsWithUnbatched(this.options.maxPatientsPerRound ?? 200);
    if (patients.length === 0) return;
    const batches: { patient: string; entries: ChainLink[]; root: string }[] = [];
    for (const patient of patients) {
      const entries = await store.unbatchedEntries(patient, limit);
      if (entries.length > 0)
        batches.push({ patient, entries, root: merkleRoot(entries.map((e) => e.hash)) });
    }
    const sealed = batches.map((b) => ({
      patient: b.patient,
      firstSeq: b.entries[0].seq,
      lastSeq: b.entries[b.entries.length - 1].seq,
      root: b.root,
    }));
    const result = await ledger.anchorAuditRoots(sealed.map((b) => ({ ...b, root: `0x${b.root}` })));
    await store.saveAnchoredBatches(sealed, result);
  }
}
