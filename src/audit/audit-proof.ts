import { auditEntryHash, type AuditEntryFields } from './audit-entry-hash.js';
import { rootFromProof, type ProofStep } from './merkle.js';

export interface AuditProofCheck {
  /** The hash recomputed from the entry's fields equals the hash the node reports. */
  hashMatches: boolean;
  /** The proof leads from that hash to the batch root. */
  reachesRoot: boolean;
  /** The root is anchored on chain for this patient (block number), null if not. */
  anchoredAt: number | null;
  valid: boolean;
}

/**
 * What a patient's client does to trust an audit entry without trusting the node: recompute the hash
 * from the fields, walk the proof to the root, ask the chain whether that root was anchored.
 */
export async function checkAuditProof(params: {
  fields: AuditEntryFields;
  reportedHash: string;
  proof: readonly ProofStep[];
  root: string;
  rootBlockOnChain: (patient: string, root: string) => Promise<number | null>;
}): Promise<AuditProofCheck> {
  const recomputed = auditEntryHash(params.fields);
  const hashMatches = recomputed === params.reportedHash;
  const reachesRoot = rootFromProof(recomputed, params.proof) === params.root;
  const anchoredAt = await params.rootBlockOnChain(params.fields.patient, `0x${params.root}`);
  return { hashMatches, reachesRoot, anchoredAt, valid: hashMatches && reachesRoot && anchoredAt !== null };
}
