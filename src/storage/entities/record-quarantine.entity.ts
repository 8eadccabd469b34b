import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * Why an anchored version was refused on adoption. VERSION_GAP is the one that can heal: it is tried
 * again once the missing version is adopted; every other reason stays for the operator.
 */
export type QuarantineReason =
  | 'VERSION_GAP'
  | 'VERSION_CONFLICT'
  | 'PREVIOUS_CID_MISMATCH'
  | 'PATIENT_CHANGED'
  | 'TYPE_CHANGED'
  | 'RECORD_ID_REUSED'
  | 'ANCHOR_MISMATCH'
  | 'AUTHOR_NOT_ENTITLED'
  | 'BAD_AUTHOR_SIGNATURE'
  | 'UNSIGNED_FOREIGN_UPDATE';

/** A record version anchored on chain that this node refused to serve, kept for the operator. */
@Entity('record_quarantine')
@Index('IDX_record_quarantine_version', ['recordId', 'version', 'cid'], { unique: true })
export class RecordQuarantineEntity {
  @PrimaryGeneratedColumn({ type: 'int' })
  id!: number;

  @Column({ name: 'record_id', type: 'uuid' })
  recordId!: string;

  @Column({ type: 'int' })
  version!: number;

  @Column({ type: 'varchar', length: 128 })
  cid!: string;

  /** The patient the anchor names. */
  @Column({ type: 'varchar', length: 42 })
  patient!: string;

  /** The author the envelope claims, when it could be opened. */
  @Column({ type: 'varchar', length: 42, nullable: true })
  author!: string | null;

  @Column({ name: 'anchor_tx', type: 'varchar', length: 66 })
  anchorTx!: string;

  @Column({ name: 'anchor_block', type: 'int' })
  anchorBlock!: number;

  @Column({ type: 'varchar', length: 32 })
  reason!: QuarantineReason;

  /** What did not hold, for a human. */
  @Column({ type: 'text' })
  detail!: string;

  @CreateDateColumn({ name: 'quarantined_at', type: 'timestamptz' })
  quarantinedAt!: Date;
}
