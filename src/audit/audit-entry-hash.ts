import { createHash } from 'node:crypto';

export const GENESIS_HASH = '0'.repeat(64);

/** The fields of an audit entry that its hash covers; what a client needs to recompute it. */
export interface AuditEntryFields {
  patient: string;
  seq: number;
  actor: string;
  action: string;
  resourceType: string | null;
  recordId: string | null;
  outcome: string;
  purpose: string | null;
  reason: string | null;
  /** ISO 8601 with milliseconds, UTC. */
  at: string;
  prevHash: string;
}

/**
 * SHA-256 over a JSON array of the fields in a fixed order: simple for any client to recompute, and
 * chaining `prevHash` makes removing or reordering entries detectable.
 */
export function auditEntryHash(fields: AuditEntryFields): string {
  const canonical = JSON.stringify([
    'omnichart-audit-v1',
    fields.patient,
    fields.seq,
    fields.actor,
    fields.action,
    fields.resourceType,
    fields.recordId,
    fields.outcome,
    fields.purpose,
    fields.reason,
    fields.at,
    fields.prevHash,
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}
