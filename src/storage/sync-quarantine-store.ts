import type { DataSource } from 'typeorm';
import { SyncQuarantineEntity } from './entities/index.js';

/** One quarantined chain event, with the event still in its JSON form. */
export interface QuarantinedEvent {
  eventKey: string;
  event: unknown;
  attempts: number;
}

/** The sync_quarantine table: chain events waiting for a retry after their handler failed. */
export class SyncQuarantineStore {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Keeps a failed event for retry at `nextAttemptAt`. True when it was not quarantined yet (the
   * same range can be delivered twice if the cursor write failed), so the caller warns only once.
   */
  async add(entry: {
    eventKey: string;
    blockNumber: number;
    logIndex: number;
    eventType: string;
    event: unknown;
    error: string;
    nextAttemptAt: Date;
  }): Promise<boolean> {
    const rows: { inserted: boolean }[] = await this.dataSource.query(
      `INSERT INTO sync_quarantine (event_key, block_number, log_index, event_type, event, error, next_attempt_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (event_key) DO UPDATE SET error = EXCLUDED.error
       RETURNING (xmax = 0) AS inserted`,
      [
        entry.eventKey,
        entry.blockNumber,
        entry.logIndex,
        entry.eventType,
        JSON.stringify(entry.event),
        entry.error,
        entry.nextAttemptAt,
      ],
    );
    return rows[0]?.inserted === true;
  }

  /** Events whose retry time has come, oldest on chain first. */
  async due(now: Date, limit: number): Promise<QuarantinedEvent[]> {
    const rows = await this.dataSource
      .getRepository(SyncQuarantineEntity)
      .createQueryBuilder('q')
      .where('q.next_attempt_at <= :now', { now })
      .orderBy('q.block_number', 'ASC')
      .addOrderBy('q.log_index', 'ASC')
      .limit(limit)
      .getMany();
    return rows.map((row) => ({ eventKey: row.eventKey, event: row.event, attempts: row.attempts }));
  }

  async failedAgain(eventKey: string, error: string, attempts: number, nextAttemptAt: Date): Promise<void> {
    await this.dataSource
      .getRepository(SyncQuarantineEntity)
      .update({ eventKey }, { error, attempts, nextAttemptAt });
  }

  /** The event applied: it leaves quarantine. */
  async release(eventKey: string): Promise<void> {
    await this.dataSource.getRepository(SyncQuarantineEntity).delete({ eventKey });
  }

  async count(): Promise<number> {
    return this.dataSource.getRepository(SyncQuarantineEntity).count();
  }
}
