import { IsNull, type DataSource } from 'typeorm';
import type { Ledger } from '../ledger/chain-client.js';
import type { Logger } from '../logger.js';
import { AuditBatchEntity, AuditEntryEntity } from '../storage/entities/index.js';
import { merkleRoot } from './merkle.js';

export interface AuditAnchorerOptions {
  dataSource: DataSource;
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
    this.timer = setInterval(() => {
      void this.flush().catch((error: Error) =>
        this.options.logger.warn('audit anchoring failed; will retry', { error: error.message }),
      );
    }, this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
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
    const { dataSource, ledger } = this.options;
    const limit = this.options.maxEntriesPerBatch ?? 1000;
    // Oldest first: the patients whose unanchored entries have waited longest go in this round, so a
    // flood of new patients' entries cannot keep older ones from ever being anchored.
    const patients: { patient: string }[] = await dataSource.query(
      `SELECT patient FROM audit_entry WHERE batch_id IS NULL
        GROUP BY patient ORDER BY min(at), patient LIMIT $1`,
      [this.options.maxPatientsPerRound ?? 200],
    );
    if (patients.length === 0) return;
    const batches: { patient: string; entries: AuditEntryEntity[]; root: string }[] = [];
    for (const { patient } of patients) {
      const entries = await dataSource.getRepository(AuditEntryEntity).find({
        where: { patient, batchId: IsNull() },
        order: { seq: 'ASC' },
        take: limit,
        select: { patient: true, seq: true, hash: true },
      });
      if (entries.length > 0)
        batches.push({ patient, entries, root: merkleRoot(entries.map((e) => e.hash)) });
    }
    const result = await ledger.anchorAuditRoots(
      batches.map((b) => ({
        patient: b.patient,
        root: `0x${b.root}`,
        firstSeq: b.entries[0].seq,
        lastSeq: b.entries[b.entries.length - 1].seq,
      })),
    );
    await dataSource.transaction(async (tx) => {
      for (const b of batches) {
        const firstSeq = b.entries[0].seq;
        const lastSeq = b.entries[b.entries.length - 1].seq;
        const saved = await tx.save(
          tx.create(AuditBatchEntity, {
            patient: b.patient,
            firstSeq,
            lastSeq,
            root: b.root,
            anchorTx: result.txHash,
            anchorBlock: result.blockNumber,
          }),
        );
        await tx
          .createQueryBuilder()
          .update(AuditEntryEntity)
          .set({ batchId: saved.id })
          .where('patient = :patient AND seq BETWEEN :firstSeq AND :lastSeq', {
            patient: b.patient,
            firstSeq,
            lastSeq,
          })
          .execute();
      }
    });
  }
}
