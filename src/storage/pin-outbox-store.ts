import type { DataSource } from 'typeorm';

/** Objects still to be pinned to Kubo, for readiness and metrics. */
export interface PinBacklog {
  pending: number;
  /** Age of the oldest waiting object in seconds; 0 when none waits. */
  oldestAgeSeconds: number;
}

/** What became of one claimed object: pinned (the row goes), or an error to retry after a delay. */
export type PinOutcome = { cid: string; pinned: true } | { cid: string; pinned: false; error: string };

/** The pin outbox in Postgres: one row per object stored here and not yet pinned to Kubo. */
export class PinOutboxStore {
  constructor(private readonly dataSource: DataSource) {}

  /** Queues objects for pinning; an object already queued keeps its row. */
  async enqueue(cids: readonly string[]): Promise<void> {
    if (cids.length === 0) return;
    await this.dataSource.query(
      `INSERT INTO pin_outbox (cid) SELECT DISTINCT unnest($1::varchar[]) ON CONFLICT (cid) DO NOTHING`,
      [cids],
    );
  }

  /**
   * Claims up to `limit` due objects, oldest first, runs `pin` on them while their rows stay locked
   * (another replica's claim skips them), then deletes the pinned rows and schedules retries for
   * the rest, all in one transaction: a crash mid-batch leaves every row to be tried again.
   * @returns how many objects were claimed
   */
  async claimDue(limit: number, pin: (cids: string[]) => Promise<PinOutcome[]>): Promise<number> {
    return this.dataSource.transaction(async (manager) => {
      const rows: { cid: string }[] = await manager.query(
        `SELECT cid FROM pin_outbox WHERE next_attempt_at <= now()
         ORDER BY created_at, cid LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [limit],
      );
      if (rows.length === 0) return 0;
      const outcomes = await pin(rows.map((row) => row.cid));
      const pinned = outcomes.filter((o) => o.pinned).map((o) => o.cid);
      if (pinned.length > 0) {
        await manager.query('DELETE FROM pin_outbox WHERE cid = ANY($1::varchar[])', [pinned]);
      }
      for (const outcome of outcomes) {
        if (outcome.pinned) continue;
        // Backoff from the new attempt count: 4 s, 8 s, ... at most 10 minutes.
        await manager.query(
          `UPDATE pin_outbox SET attempts = attempts + 1, last_error = $2,
             next_attempt_at = now() + make_interval(secs => least(600, 2 * power(2, least(attempts + 1, 10))))
           WHERE cid = $1`,
          [outcome.cid, outcome.error.slice(0, 1000)],
        );
      }
      return rows.length;
    });
  }

  async backlog(): Promise<PinBacklog> {
    const [row]: { pending: number; oldest: string | null }[] = await this.dataSource.query(
      `SELECT count(*)::int AS pending, extract(epoch FROM now() - min(created_at))::float8 AS oldest
       FROM pin_outbox`,
    );
    return { pending: row.pending, oldestAgeSeconds: Math.max(0, Number(row.oldest ?? 0)) };
  }

  /** The last error and attempt count of a waiting object, or null when it is not waiting. */
  async status(cid: string): Promise<{ attempts: number; lastError: string | null } | null> {
    const [row]: { attempts: number; last_error: string | null }[] = await this.dataSource.query(
      'SELECT attempts, last_error FROM pin_outbox WHERE cid = $1',
      [cid],
    );
    return row ? { attempts: row.attempts, lastError: row.last_error } : null;
  }
}
