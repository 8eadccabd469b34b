import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/** One FHIR resource in a patient's chart; its content lives encrypted on IPFS, versions in RecordVersionEntity. */
@Entity('record')
@Index(['patient', 'resourceType'])
export class RecordEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @Column({ type: 'varchar', length: 42 })
  patient!: string;

  @Column({ name: 'resource_type', type: 'varchar', length: 64 })
  resourceType!: string;

  /** The resource's own `id` as the source system wrote it, if any. */
  @Column({ name: 'source_id', type: 'varchar', length: 128, nullable: true })
  sourceId!: string | null;

  /** The account that wrote the first version. */
  @Column({ type: 'varchar', length: 42 })
  author!: string;

  @Column({ name: 'current_version', type: 'int' })
  currentVersion!: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
