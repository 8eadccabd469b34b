import { IsNull, type DataSource } from 'typeorm';
import { AuditBatchEntity, AuditEntryEntity } from './entities/index.js';

const UNIQUE_VIOLATION = '23505';

/** The last link of a patient's log: its seq and hash (or the last anchored batch's end and root). */
export interface ChainLink {
  seq: number;
  hash: string;
}

/** A Merkle batch of one patient's entries, about to be stored with its anchor. */
export interface SealedBatch {
  patient: string;
  firstSeq: number;
  lastSeq: number;
  root: string;
}

function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; driverError?: { code?: string } };
  return e.code === UNIQUE_VIOLATION || e.driverError?.code === UNIQUE_VIOLATION;
}

/** The audit_entry and audit_batch tables: per-patient hash-chained entries and their anchored roots. */
export class AuditStore {
  constructor(private readonly dataSource: DataSource) {}

  private get entries() {
    return this.dataSource.getRepository(AuditEntryEntity);
  }

  private get batches() {
    return this.dataSource.getRepository(AuditBatchEntity);
  }

  /**
   * Appends entries in one INSERT (one transaction); null when one of their (patient, seq) is taken
   * (another writer appended first), and then none is written.
   */
  async insertEntries(
    rows: readonly Omit<AuditEntryEntity, 'batchId'>[],
  ): Promise<AuditEntryEntity[] | null> {
    const entries = rows.map((row) => this.entries.create({ ...row, batchId: null }));
    try {
      await this.entries.insert(entries);
    } catch (error) {
      if (isUniqueViolation(error)) return null;
      throw error;
    }
    return entries;
  }

  /** The patient's newest entry, or null when none is held (a new patient, or a rebuilt cache). */
  async lastEntry(patient: string): Promise<ChainLink | null> {
    const last = await this.entries.findOne({
      where: { patient },
      order: { seq: 'DESC' },
      select: { seq: true, hash: true },
    });
    return last ? { seq: last.seq, hash: last.hash } : null;
  }

  /** The end of the patient's last anchored batch, as its last seq and root. */
  async lastBatchEnd(patient: string): Promise<ChainLink | null> {
    const batch = await this.batches.findOne({
      where: { patient },
      order: { lastSeq: 'DESC' },
      select: { lastSeq: true, root: true },
    });
    return batch ? { seq: batch.lastSeq, hash: batch.root } : null;
  }

  /** Every anchored batch of the patient's log, oldest first. */
  async batchesOf(patient: string): Promise<AuditBatchEntity[]> {
    return this.batches.find({ where: { patient }, order: { firstSeq: 'ASC', id: 'ASC' } });
  }

  async batch(id: number): Promise<AuditBatchEntity> {
    return this.batches.findOneByOrFail({ id });
  }

  /** Up to `limit` entries newest first, before seq `before` when given; and how many the patient has. */
  async entriesNewestFirst(
    patient: string,
    limit: number,
    before?: number,
  ): Promise<{ entries: AuditEntryEntity[]; total: number }> {
    const query = this.entries
      .createQueryBuilder('e')
      .where('e.patient = :patient', { patient })
      .orderBy('e.seq', 'DESC')
      .take(limit);
    if (before !== undefined) query.andWhere('e.seq < :before', { before });
    const [entries, total] = await Promise.all([query.getMany(), this.entries.countBy({ patient })]);
    return { entries, total };
  }

  /** The hashes of a batch's entries in seq order (its Merkle leaves). */
  async batchLeaves(patient: string, batchId: number): Promise<string[]> {
    const members = await this.entries.find({
      where: { patient, batchId },
      order: { seq: 'ASC' },
      select: { seq: true, hash: true },
    });
    return members.map((member) => member.hash);
  }

  /** Patients with entries in no batch, those whose oldest such entry waited longest first. */
  async patientsWithUnbatched(limit: number): Promise<string[]> {
    const rows: { patient: string }[] = await this.dataSource.query(
      `SELECT patient FROM audit_entry WHERE batch_id IS NULL
        GROUP BY patient ORDER BY min(at), patient LIMIT $1`,
      [limit],
    );
    return rows.map((row) => row.patient);
  }

  /** The patient's first `limit` entries in no batch, in seq order. */
  async unbatchedEntries(patient: string, limit: number): Promise<ChainLink[]> {
    const rows = await this.entries.find({
      where: { patient, batchId: IsNull() },
      order: { seq: 'ASC' },
      take: limit,
      select: { patient: true, seq: true, hash: true },
    });
    return rows.map((row) => ({ seq: row.seq, hash: row.hash }));
  }

  /** Stores anchored batches and points their entries at them, all or nothing. */
  async saveAnchoredBatches(
    batches: SealedBatch[],
    anchor: { txHash: string; blockNumber: number },
  ): Promise<void> {
    await this.dataSource.transaction(async (tx) => {
      for (const b of batches) {
        const saved = await tx.save(
          tx.create(AuditBatchEntity, {
            patient: b.patient,
            firstSeq: b.firstSeq,
            lastSeq: b.lastSeq,
            root: b.root,
            anchorTx: anchor.txHash,
            anchorBlock: anchor.blockNumber,
          }),
        );
        await tx
          .createQueryBuilder()
          .update(AuditEntryEntity)
          .set({ batchId: saved.id })
          .where('patient = :patient AND seq BETWEEN :firstSeq AND :lastSeq', {
            patient: b.patient,
            firstSeq: b.firstSeq,
            lastSeq: b.lastSeq,
          })
          .execute();
      }
    });
  }

  /** A batch root read back from the chain (rebuild): stored unless the patient has that root. */
  async adoptAnchoredRoot(batch: SealedBatch & { txHash: string; blockNumber: number }): Promise<boolean> {
    const inserted: unknown[] = await this.dataSource.query(
      `INSERT INTO audit_batch (patient, first_seq, last_seq, root, anchor_tx, anchor_block)
       SELECT $1::varchar, $2::int, $3::int, $4::char(64), $5::varchar, $6::int
        WHERE NOT EXISTS (SELECT 1 FROM audit_batch WHERE patient = $1::varchar AND root = $4::char(64))
       RETURNING id`,
      [batch.patient, batch.firstSeq, batch.lastSeq, batch.root, batch.txHash, batch.blockNumber],
    );
    return inserted.length > 0;
  }
}
