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

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'anchor_tx', type: 'varchar', length: 66, nullable: true })
  anchorTx!: string | null;

  @Column({ name: 'anchor_block', type: 'int', nullable: true })
  anchorBlock!: number | null;

  @Column({ name: 'anchored_at', type: 'timestamptz', nullable: true })
  anchoredAt!: Date | null;
}
