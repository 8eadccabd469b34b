import { In, IsNull, Not, type DataSource } from 'typeorm';
import { AnchorOutboxEntity } from './entities/index.js';

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

  /** Ties rows to a signed transaction (null: it never reached the chain, send them again). */
  async setTransaction(ids: string[], txHash: string | null): Promise<void> {
    await this.outbox.update({ id: In(ids) }, { txHash });
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
