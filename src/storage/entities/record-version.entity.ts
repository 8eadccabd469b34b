import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** One immutable version of a record: the CID of its envelope and where it was anchored. */
@Entity('record_version')
export class RecordVersionEntity {
  @PrimaryColumn({ name: 'record_id', type: 'uuid' })
  recordId!: string;

  @PrimaryColumn({ type: 'int' })
  version!: number;

  @Column({ type: 'varchar', length: 128 })
  cid!: string;

  @Column({ name: 'envelope_bytes', type: 'int' })
  envelopeBytes!: number;

  @Column({ type: 'varchar', length: 42 })
  author!: string;

  /**
   * HMAC-SHA256 of the resource's canonical JSON, keyed by a secret derived from the node key: tells
   * an unchanged re-import from a change without decrypting, and without a guessable bare hash.
   */
  @Column({ name: 'content_hmac', type: 'char', length: 64, nullable: true })
  contentHmac!: string | null;

  /** CID of the version this one replaces (also sealed inside the envelope). */
  @Column({ name: 'previous_cid', type: 'varchar', length: 128, nullable: true })
  previousCid!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  /** This node checked the author's EIP-712 signature over this version (absent: unsigned write). */
  @Column({ name: 'author_verified', type: 'boolean', default: false })
  authorVerified!: boolean;

  @Column({ name: 'anchor_tx', type: 'varchar', length: 66, nullable: true })
  anchorTx!: string | null;

  @Column({ name: 'anchor_block', type: 'int', nullable: true })
  anchorBlock!: number | null;

  @Column({ name: 'anchored_at', type: 'timestamptz', nullable: true })
  anchoredAt!: Date | null;
}
