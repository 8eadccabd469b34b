import type { AuditRootAnchoredEvent } from '../ledger/chain-events.js';
import type { AuditStore } from '../storage/audit-store.js';

/**
 * Puts an audit batch root this node anchored back into a rebuilt cache: the chain keeps
 * (patient, root, firstSeq, lastSeq) and the transaction, which is all `auditTrail { batches }` shows.
 * The entries themselves were never on chain or IPFS (they name who read what: they stay in this
 * node's Postgres), so they are not rebuilt; new entries continue after the last anchored seq.
 * Roots anchored by other nodes' relayers describe their logs, not this node's, and are skipped.
 * Idempotent: a root already held is left alone.
 */
export async function replayAuditRoot(
  store: AuditStore,
  event: AuditRootAnchoredEvent,
  anchoredHere: (txHash: string) => Promise<boolean>,
): Promise<boolean> {
  if (!(await anchoredHere(event.txHash))) return false;
  const root = event.root.toLowerCase().replace(/^0x/, '');
  return store.adoptAnchoredRoot({
    patient: event.patient.toLowerCase(),
    firstSeq: event.firstSeq,
    lastSeq: event.lastSeq,
    root,
    txHash: event.txHash,
    blockNumber: event.blockNumber,
  });
}
