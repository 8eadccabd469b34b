import type { DataSource } from 'typeorm';
import { AuditBatchEntity, AuditEntryEntity, type AuditOutcome } from '../storage/entities/index.js';
import { GENESIS_HASH, auditEntryHash } from './audit-entry-hash.js';
import { merkleProof, type ProofStep } from './merkle.js';

export interface AuditEvent {
  patient: string;
  actor: string;
  action: string;
  outcome: AuditOutcome;
  resourceType?: string | null;
  recordId?: string | null;
  purpose?: string | null;
  reason?: string | null;
}

export interface AuditTrailEntry {
  entry: AuditEntryEntity;
  batch: AuditBatchEntity | null;
  proof: ProofStep[] | null;
}

export interface AuditTrailPage {
  entries: AuditTrailEntry[];
  hasNextPage: boolean;
  total: number;
}

const HEAD_CACHE_LIMIT = 10_000;
const UNIQUE_VIOLATION = '23505';
const MAX_ATTEMPTS = 50;

function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; driverError?: { code?: string } };
  return e.code === UNIQUE_VIOLATION || e.driverError?.code === UNIQUE_VIOLATION;
}

/**
 * Append-only, per-patient hash-chained access log in Postgres; roots are anchored by AuditAnchorer.
 * Appends are one INSERT: the chain head of each patient is cached and appends per patient run one at
 * a time in this process; the primary key (patient, seq) catches a writer elsewhere, and we retry.
 */
export class AuditLog {
  private readonly heads = new Map<string, { seq: number; hash: string }>();
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(private readonly dataSource: DataSource) {}

  append(event: AuditEvent): Promise<AuditEntryEntity> {
    const previous = this.queues.get(event.patient) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.appendNow(event));
    this.queues.set(event.patient, next);
    void next
      .finally(() => {
        if (this.queues.get(event.patient) === next) this.queues.delete(event.patient);
      })
      .catch(() => undefined);
    return next;
  }

  private async appendNow(event: AuditEvent): Promise<AuditEntryEntity> {
    for (let attempt = 0; ; attempt += 1) {
      const head = this.heads.get(event.patient) ?? (await this.loadHead(event.patient));
      const at = new Date();
      const fields = {
        patient: event.patient,
        seq: head.seq + 1,
        actor: event.actor,
        action: event.action,
        resourceType: event.resourceType ?? null,
        recordId: event.recordId ?? null,
        outcome: event.outcome,
        purpose: event.purpose?.slice(0, 500) ?? null,
        reason: event.reason?.slice(0, 500) ?? null,
        at: at.toISOString(),
        prevHash: head.hash,
      };
      const entry = this.dataSource
        .getRepository(AuditEntryEntity)
        .create({ ...fields, at, hash: auditEntryHash(fields), batchId: null });
      try {
        await this.dataSource.getRepository(AuditEntryEntity).insert(entry);
      } catch (error) {
        this.heads.delete(event.patient);
        // Another writer took this seq: every conflict means it made progress, so retrying converges.
        if (isUniqueViolation(error) && attempt < MAX_ATTEMPTS) {
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt));
          continue;
        }
        throw error;
      }
      this.remember(event.patient, { seq: entry.seq, hash: entry.hash });
      return entry;
    }
  }

  private async loadHead(patient: string): Promise<{ seq: number; hash: string }> {
    const last = await this.dataSource.getRepository(AuditEntryEntity).findOne({
      where: { patient },
      order: { seq: 'DESC' },
      select: { seq: true, hash: true },
    });
    if (last) return { seq: last.seq, hash: last.hash };
    // A rebuilt cache has the anchored roots but not the entries: the log continues after the last
    // anchored seq, chained to that root, so seqs never repeat one the chain already covers.
    const batch = await this.dataSource.getRepository(AuditBatchEntity).findOne({
      where: { patient },
      order: { lastSeq: 'DESC' },
      select: { lastSeq: true, root: true },
    });
    return batch ? { seq: batch.lastSeq, hash: batch.root } : { seq: 0, hash: GENESIS_HASH };
  }

  /** Every anchored batch of the patient's log, oldest first (rebuilt from the chain with the cache). */
  batchesOf(patient: string): Promise<AuditBatchEntity[]> {
    return this.dataSource
      .getRepository(AuditBatchEntity)
      .find({ where: { patient }, order: { firstSeq: 'ASC', id: 'ASC' } });
  }

  private remember(patient: string, head: { seq: number; hash: string }): void {
    this.heads.delete(patient);
    this.heads.set(patient, head);
    if (this.heads.size > HEAD_CACHE_LIMIT) this.heads.delete(this.heads.keys().next().value!);
  }

  /** Newest first; `after` is the seq of the last entry of the previous page. */
  async trail(patient: string, first: number, after?: number): Promise<AuditTrailPage> {
    const query = this.dataSource
      .getRepository(AuditEntryEntity)
      .createQueryBuilder('e')
      .where('e.patient = :patient', { patient })
      .orderBy('e.seq', 'DESC')
      .take(first + 1);
    if (after !== undefined) query.andWhere('e.seq < :after', { after });
    const [rows, total] = await Promise.all([
      query.getMany(),
      this.dataSource.getRepository(AuditEntryEntity).countBy({ patient }),
    ]);
    const page = rows.slice(0, first);
    const batchIds = [...new Set(page.map((e) => e.batchId).filter((id): id is number => id !== null))];
    const batches = new Map<number, { batch: AuditBatchEntity; hashes: string[] }>();
    for (const id of batchIds) {
      const batch = await this.dataSource.getRepository(AuditBatchEntity).findOneByOrFail({ id });
      const members = await this.dataSource
        .getRepository(AuditEntryEntity)
        .find({ where: { patient, batchId: id }, order: { seq: 'ASC' }, select: { seq: true, hash: true } });
      batches.set(id, { batch, hashes: members.map((m) => m.hash) });
    }
    return {
      entries: page.map((entry) => {
        const found = entry.batchId === null ? undefined : batches.get(entry.batchId);
        return {
          entry,
          batch: found?.batch ?? null,
          proof: found ? merkleProof(found.hashes, entry.seq - found.batch.firstSeq) : null,
        };
      }),
      hasNextPage: rows.length > first,
      total,
    };
  }
}
