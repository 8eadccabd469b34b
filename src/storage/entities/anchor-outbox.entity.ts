import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * A record version waiting to be anchored. Written in the same transaction as the record, so an
 * acknowledged write is never lost; the anchor queue deletes the row once the chain has it.
 */
@Entity('anchor_outbox')
export class AnchorOutboxEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Index()
  @Column({ name: 'record_id', type: 'uuid' })
  recordId!: string;

  @Column({ type: 'int' })
  version!: number;

  @Column({ type: 'varchar', length: 42 })
  patient!: string;

  @Column({ type: 'varchar', length: 128 })
  cid!: string;

  /** Set just before broadcast, so a restart can tell a sent batch from an unsent one. */
  @Column({ name: 'tx_hash', type: 'varchar', length: 66, nullable: true })
  txHash!: string | null;

  /** The replica (its presence key, see leader-election.ts) that signed `txHash`. */
  @Column({ name: 'signed_by', type: 'int', nullable: true })
  signedBy!: number | null;

  @Column({ type: 'int', default: 0 })
  attempts!: number;

  @Column({ name: 'last_error', type: 'text', nullable: true })
  lastError!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
