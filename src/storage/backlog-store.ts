import type { DataSource } from 'typeorm';

/** Outbox rows waiting for their anchor transaction (anchored rows are deleted). */
export interface AnchorBacklog {
  pending: number;
  /** Age of the oldest waiting row in seconds; 0 when none waits. */
  oldestAgeSeconds: number;
}

/** Read-only counts of work the node still owes the chain, for readiness and metrics. */
export class BacklogStore {
  constructor(private readonly dataSource: DataSource) {}

  async anchorBacklog(): Promise<AnchorBacklog> {
    const [row]: { pending: number; oldest: string | null }[] = await this.dataSource.query(
      `SELECT count(*)::int AS pending, extract(epoch FROM now() - min(created_at))::float8 AS oldest
       FROM anchor_outbox`,
    );
    return { pending: row.pending, oldestAgeSeconds: Math.max(0, Number(row.oldest ?? 0)) };
  }

  /** Audit entries not yet in a batch; a batch is written only once its root is anchored. */
  async auditBacklog(): Promise<number> {
    const [row]: { pending: number }[] = await this.dataSource.query(
      'SELECT count(*)::int AS pending FROM audit_entry WHERE batch_id IS NULL',
    );
    return row.pending;
  }
}
