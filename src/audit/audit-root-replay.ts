import type { DataSource } from 'typeorm';
import type { AuditRootAnchoredEvent } from '../ledger/chain-events.js';

/**
 * Puts an audit batch root this node anchored back into a rebuilt cache: the chain keeps
 * (patient, root, firstSeq, lastSeq) and the transaction, which is all `auditTrail { batches }` shows.
 * The entries themselves were never on chain or IPFS (they name who read what: they stay in this
 * node's Postgres), so they are not rebuilt; new entries continue after the last anchored seq.
 * Roots anchored by other nodes' relayers describe their logs, not this node's, and are skipped.
 * Idempotent: a root already held is left alone.
 */
export async function replayAuditRoot(
  dataSource: DataSource,
  event: AuditRootAnchoredEvent,
  anchoredHere: (txHash: string) => Promise<boolean>,
): Promise<boolean> {
  if (!(await anchoredHere(event.txHash))) return false;
  const root = event.root.toLowerCase().replace(/^0x/, '');
  const inserted: unknown[] = await dataSource.query(
    `INSERT INTO audit_batch (patient, first_seq, last_seq, root, anchor_tx, anchor_block)
     SELECT $1::varchar, $2::int, $3::int, $4::char(64), $5::varchar, $6::int
      WHERE NOT EXISTS (SELECT 1 FROM audit_batch WHERE patient = $1::varchar AND root = $4::char(64))
     RETURNING id`,
    [event.patient.toLowerCase(), event.firstSeq, event.lastSeq, root, event.txHash, event.blockNumber],
  );
  return inserted.length > 0;
}
