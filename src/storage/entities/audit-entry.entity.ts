import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

export type AuditOutcome = 'ALLOWED' | 'DENIED' | 'EMERGENCY';

/** One access to a patient's data by someone else; entries are hash-chained per patient. */
@Entity('audit_entry')
@Index(['patient', 'batchId'])
export class AuditEntryEntity {
  @PrimaryColumn({ type: 'varchar', length: 42 })
  patient!: string;

  /** 1, 2, 3, ... per patient. */
  @PrimaryColumn({ type: 'int' })
  seq!: number;

  @Column({ type: 'varchar', length: 42 })
  actor!: string;

  @Column({ type: 'varchar', length: 16 })
  action!: string;

  @Column({ name: 'resource_type', type: 'varchar', length: 64, nullable: true })
  resourceType!: string | null;

  @Column({ name: 'record_id', type: 'uuid', nullable: true })
  recordId!: string | null;

  @Column({ type: 'varchar', length: 16 })
  outcome!: AuditOutcome;

  @Column({ type: 'varchar', length: 500, nullable: true })
  purpose!: string | null;

  /** Why it was denied, or the break-glass reason. */
  @Column({ type: 'varchar', length: 500, nullable: true })
  reason!: string | null;

  @Column({ type: 'timestamptz' })
  at!: Date;

  @Column({ name: 'prev_hash', type: 'char', length: 64 })
  prevHash!: string;

  @Column({ type: 'char', length: 64 })
  hash!: string;

  /** The anchored batch this entry belongs to, once anchored. */
  @Column({ name: 'batch_id', type: 'int', nullable: true })
  batchId!: number | null;
}
