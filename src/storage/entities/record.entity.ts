import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/**
 * One FHIR resource in a patient's chart; its content lives encrypted on IPFS, versions in
 * RecordVersionEntity. The searchable columns (effective time, codes, status) describe the current
 * version. They are clinical metadata in plaintext: the accepted price of a queryable cache (see
 * docs/chart.md); the resource itself never leaves its envelope.
 */
@Entity('record')
@Index(['patient', 'resourceType'])
@Index('IDX_record_identity', ['patient', 'author', 'resourceType', 'sourceKey'], { unique: true })
@Index('IDX_record_timeline', ['patient', 'effectiveAt', 'id'])
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

  /**
   * Identity of the resource within its source: its `id`, else the Bundle entry's `fullUrl`. A write
   * with the same (patient, author, type, key) is a new version of this record; null: no identity.
   */
  @Column({ name: 'source_key', type: 'varchar', length: 512, nullable: true })
  sourceKey!: string | null;

  /** The Bundle entry's `fullUrl` (e.g. `urn:uuid:...`), so references between entries resolve. */
  @Column({ name: 'full_url', type: 'varchar', length: 512, nullable: true })
  fullUrl!: string | null;

  /** The account that wrote the first version. */
  @Column({ type: 'varchar', length: 42 })
  author!: string;

  @Column({ name: 'current_version', type: 'int' })
  currentVersion!: number;

  /** Clinical time of the current version (effective, performed, onset, ...), else its write time. */
  @Column({ name: 'effective_at', type: 'timestamptz' })
  effectiveAt!: Date;

  /** `system|code` of the current version's codes (code, vaccineCode, type, components, ...). */
  @Column({ type: 'text', array: true })
  codes!: string[];

  /** `status`, or `clinicalStatus` for conditions and allergies, of the current version. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  status!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
