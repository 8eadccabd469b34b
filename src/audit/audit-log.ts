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
/** Entries of one patient written in one INSERT at most (11 parameters each, well under pg's 65,535). */
const MAX_BATCH = 500;

interface PendingAppend {
  event: AuditEvent;
  resolve: (entry: AuditEntryEntity) => void;
  reject: (error: unknown) => void;
}

/**
 * Append-only, per-patient hash-chained access log in Postgres; roots are anchored by AuditAnchorer.
 * The chain head of each patient is cached, and one patient's appends run one INSERT at a time in
 * this process: the entries that arrive while one is being committed are written together in the
 * next (group commit), so concurrent reads of a chart share a commit instead of queueing for one each.
 * The primary key (patient, seq) catches a writer elsewhere, and the batch is chained again and retried.
 */
export class AuditLog {
  private readonly heads = new Map<string, ChainLink>();
  /** Per patient, the appends waiting for the next INSERT; a patient is listed while one is running. */
  private readonly waiting = new Map<string, PendingAppend[]>();

  constructor(private readonly store: AuditStore) {}

  /** Resolves with the entry once it is committed. */
  append(event: AuditEvent): Promise<AuditEntryEntity> {
    return new Promise((resolve, reject) => {
      const queue = this.waiting.get(event.patient);
      if (queue) {
        queue.push({ event, resolve, reject });
        return;
      }
      this.waiting.set(event.patient, [{ event, resolve, reject }]);
      void this.drain(event.patient);
    });
  }

  /** Writes the patient's waiting appends, a batch per INSERT, until none is left. */
  private async drain(patient: string): Promise<void> {
    const queue = this.waiting.get(patient)!;
    while (queue.length > 0) {
      const batch = queue.splice(0, MAX_BATCH);
      try {
        const entries = await this.appendNow(
          patient,
          batch.map((pending) => pending.event),
        );
        batch.forEach((pending, i) => pending.resolve(entries[i]));
      } catch (error) {
        for (const pending of batch) pending.reject(error);
      }
    }
    this.waiting.delete(patient);
  }

  private async appendNow(patient: string, events: readonly AuditEvent[]): Promise<AuditEntryEntity[]> {
    for (let attempt = 0; ; attempt += 1) {
      const head = this.heads.get(patient) ?? (await this.loadHead(patient));
      const at = new Date();
      let link = head;
      const rows = events.map((event) => {
        const fields = {
          patient,
          seq: link.seq + 1,
          actor: event.actor,
          action: event.action,
          resourceType: event.resourceType ?? null,
          recordId: event.recordId ?? null,
          outcome: event.outcome,
          purpose: event.purpose?.slice(0, 500) ?? null,
          reason: event.reason?.slice(0, 500) ?? null,
          at: at.toISOString(),
          prevHash: link.hash,
        };
        const hash = auditEntryHash(fields);
        link = { seq: fields.seq, hash };
        return { ...fields, at, hash };
      });
      let entries: AuditEntryEntity[] | null;
      try {
        entries = await this.store.insertEntries(rows);
      } catch (error) {
        this.heads.delete(patient);
        throw error;
      }
      if (entries === null) {
        this.heads.delete(patient);
        // Another writer took one of these seqs: every conflict means it made progress, so retrying converges.
        if (attempt >= MAX_ATTEMPTS) {
          throw new Error(`audit entries from ${head.seq + 1} of ${patient} lost ${MAX_ATTEMPTS} races`);
        }
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt));
        continue;
      }
      this.remember(patient, link);
      return entries;
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
