import type { AuditStore, ChainLink } from '../storage/audit-store.js';
import type { AuditBatchEntity, AuditEntryEntity, AuditOutcome } from '../storage/entities/index.js';
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
const MAX_ATTEMPTS = 50;

/**
 * Append-only, per-patient hash-chained access log in Postgres; roots are anchored by AuditAnchorer.
 * Appends are one INSERT: the chain head of each patient is cached and appends per patient run one at
 * a time in this process; the primary key (patient, seq) catches a writer elsewhere, and we retry.
 */
export class AuditLog {
  private readonly heads = new Map<string, ChainLink>();
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(private readonly store: AuditStore) {}

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
      let entry: AuditEntryEntity | null;
      try {
        entry = await this.store.insertEntry({ ...fields, at, hash: auditEntryHash(fields) });
      } catch (error) {
        this.heads.delete(event.patient);
        throw error;
      }
      if (entry === null) {
        this.heads.delete(event.patient);
        // Another writer took this seq: every conflict means it made progress, so retrying converges.
        if (attempt >= MAX_ATTEMPTS) {
          throw new Error(`audit entry ${fields.seq} of ${event.patient} lost ${MAX_ATTEMPTS} races`);
        }
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt));
        continue;
      }
      this.remember(event.patient, { seq: entry.seq, hash: entry.hash });
      return entry;
    }
  }

  private async loadHead(patient: string): Promise<ChainLink> {
    const last = await this.store.lastEntry(patient);
    if (last) return last;
    // A rebuilt cache has the anchored roots but not the entries: the log continues after the last
    // anchored seq, chained to that root, so seqs never repeat one the chain already covers.
    return (await this.store.lastBatchEnd(patient)) ?? { seq: 0, hash: GENESIS_HASH };
  }

  /** Every anchored batch of the patient's log, oldest first (rebuilt from the chain with the cache). */
  batchesOf(patient: string): Promise<AuditBatchEntity[]> {
    return this.store.batchesOf(patient);
  }

  private remember(patient: string, head: ChainLink): void {
    this.heads.delete(patient);
    this.heads.set(patient, head);
    if (this.heads.size > HEAD_CACHE_LIMIT) this.heads.delete(this.heads.keys().next().value!);
  }

  /** Newest first; `after` is the seq of the last entry of the previous page. */
  async trail(patient: string, first: number, after?: number): Promise<AuditTrailPage> {
    const { entries: rows, total } = await this.store.entriesNewestFirst(patient, first + 1, after);
    const page = rows.slice(0, first);
    const batchIds = [...new Set(page.map((e) => e.batchId).filter((id): id is number => id !== null))];
    const batches = new Map<number, { batch: AuditBatchEntity; hashes: string[] }>();
    for (const id of batchIds) {
      const batch = await this.store.batch(id);
      batches.set(id, { batch, hashes: await this.store.batchLeaves(patient, id) });
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
