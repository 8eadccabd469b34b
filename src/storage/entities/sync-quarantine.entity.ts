import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * A chain event whose handler failed. It waits here, retried with backoff, so the indexer's cursor
 * moves on past it; the row goes once the event applies.
 */
@Entity('sync_quarantine')
@Index('IDX_sync_quarantine_next_attempt_at', ['nextAttemptAt'])
export class SyncQuarantineEntity {
  /** `<block>:<log index>`: where the event sits on chain, unique per event. */
  @PrimaryColumn({ name: 'event_key', type: 'varchar', length: 40 })
  eventKey!: string;

  @Column({ name: 'block_number', type: 'int' })
  blockNumber!: number;

  @Column({ name: 'log_index', type: 'int' })
  logIndex!: number;

  @Column({ name: 'event_type', type: 'varchar', length: 32 })
  eventType!: string;

  /** The event as JSON (bytes as `{ $bytes: base64 }`, bigints as `{ $bigint: decimal }`). */
  @Column({ type: 'jsonb' })
  event!: unknown;

  /** The last failure's message, bounded; never a stack. */
  @Column({ type: 'text' })
  error!: string;

  @Column({ type: 'int', default: 1 })
  attempts!: number;

  @CreateDateColumn({ name: 'first_failed_at', type: 'timestamptz' })
  firstFailedAt!: Date;

  @Column({ name: 'next_attempt_at', type: 'timestamptz' })
  nextAttemptAt!: Date;
}
