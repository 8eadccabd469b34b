import { In, IsNull, Not, type DataSource } from 'typeorm';
import { AnchorOutboxEntity } from './entities/index.js';
import { LOCK_CLASS } from './leader-election.js';

/** Sends claimed rows; calls `signed` with the transaction hash once signed, before broadcasting it. */
export type SendClaimed<T> = (
  rows: AnchorOutboxEntity[],
  signed: (txHash: string) => Promise<void>,
) => Promise<T>;

/**
 * The anchor_outbox table: record versions written and not yet anchored. A row gets the hash of the
 * transaction that carries it once signed, and is deleted in the transaction that marks its version
 * anchored.
 */
export class AnchorOutboxStore {
  constructor(private readonly dataSource: DataSource) {}

  private get outbox() {
    return this.dataSource.getRepository(AnchorOutboxEntity);
  }

  async count(): Promise<number> {
    return this.outbox.count();
  }

  /** Rows whose transaction was signed (sent, perhaps mined) but not marked anchored, oldest first. */
  async inFlight(): Promise<AnchorOutboxEntity[]> {
    return this.outbox.find({ where: { txHash: Not(IsNull()) }, order: { id: 'ASC' } });
  }

  /** Rows not in any transaction yet, oldest first. */
  async waiting(limit: number): Promise<AnchorOutboxEntity[]> {
    return this.outbox.find({ where: { txHash: IsNull() }, order: { id: 'ASC' }, take: limit });
  }

  /**
   * Claims up to `limit` waiting rows, oldest first, with `FOR UPDATE SKIP LOCKED` (replicas of one
   * node claim disjoint rows) and runs `send` on them. The rows stay locked until `send` reports the
   * signed transaction: then its hash and this replica's presence key are committed, before the
   * broadcast, so no other replica can take the rows again and a restart knows what was sent. A
   * `send` that fails before signing rolls the claim back.
   * @returns null when nothing waits
   */
  async claimWaiting<T>(
    limit: number,
    signer: number,
    send: SendClaimed<T>,
  ): Promise<{ rows: AnchorOutboxEntity[]; result: T } | null> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    let open = false;
    try {
      await runner.startTransaction();
      open = true;
      const found: { id: string }[] = await runner.query(
        `SELECT id FROM anchor_outbox WHERE tx_hash IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [limit],
      );
      if (found.length === 0) return null;
      const rows = await runner.manager.find(AnchorOutboxEntity, {
        where: { id: In(found.map((r) => r.id)) },
        order: { id: 'ASC' },
      });
      const ids = rows.map((r) => r.id);
      const result = await send(rows, async (txHash) => {
        await runner.query(
          `UPDATE anchor_outbox SET tx_hash = $1, signed_by = $2 WHERE id = ANY($3::bigint[])`,
          [txHash, signer, ids],
        );
        await runner.commitTransaction();
        open = false;
      });
      return { rows, result };
    } finally {
      if (open) await runner.rollbackTransaction().catch(() => undefined);
      await runner.release();
    }
  }

  /** Whether the replica with this presence key still runs (its session holds the presence lock). */
  async signerAlive(presenceKey: number): Promise<boolean> {
    const [row]: { alive: boolean }[] = await this.dataSource.query(
      `SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_database d ON d.oid = l.database
         WHERE l.locktype = 'advisory' AND d.datname = current_database()
           AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 2 AND l.granted) AS alive`,
      [LOCK_CLASS.presence, presenceKey],
    );
    return row.alive;
  }

  /** Ties rows to a signed transaction (null: it never reached the chain, send them again). */
  async setTransaction(ids: string[], txHash: string | null): Promise<void> {
    await this.outbox.update({ id: In(ids) }, { txHash, signedBy: null });
  }

  async recordFailure(ids: string[], error: string): Promise<void> {
    await this.outbox.increment({ id: In(ids) }, 'attempts', 1);
    await this.outbox.update({ id: In(ids) }, { lastError: error.slice(0, 500) });
  }

  /** Marks the rows' versions anchored by the transaction and deletes the rows, all or nothing. */
  async markAnchored(rows: AnchorOutboxEntity[], txHash: string, blockNumber: number): Promise<void> {
    await this.dataSource.transaction(async (tx) => {
      // One set-based update for the whole batch.
      await tx.query(
        `UPDATE record_version rv SET anchor_tx = $1, anchor_block = $2, anchored_at = now()
           FROM unnest($3::uuid[], $4::int[]) AS t(record_id, version)
          WHERE rv.record_id = t.record_id AND rv.version = t.version`,
        [txHash, blockNumber, rows.map((r) => r.recordId), rows.map((r) => r.version)],
      );
      await tx.delete(AnchorOutboxEntity, { id: In(rows.map((r) => r.id)) });
    });
  }
}
