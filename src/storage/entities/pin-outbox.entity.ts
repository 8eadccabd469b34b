import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * An object this node stored that a Kubo or IPFS Cluster deployment has not pinned yet. Written right
 * after the blocks are durable here and before the write that uses them commits, so no acknowledged
 * object is missed; the pin queue deletes the row once Kubo answered with the same CID.
 */
@Entity('pin_outbox')
export class PinOutboxEntity {
  @PrimaryColumn({ type: 'varchar', length: 128 })
  cid!: string;

  @Column({ type: 'int', default: 0 })
  attempts!: number;

  /** Failed pins wait before the next try (backoff); replicas skip rows another one has locked. */
  @Index('IDX_pin_outbox_due')
  @Column({ name: 'next_attempt_at', type: 'timestamptz', default: () => 'now()' })
  nextAttemptAt!: Date;

  @Column({ name: 'last_error', type: 'text', nullable: true })
  lastError!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
