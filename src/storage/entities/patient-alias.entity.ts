import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** Links a source system's Patient reference (`Patient/123`) to the patient account it denotes. */
@Entity('patient_alias')
export class PatientAliasEntity {
  /** The account that wrote the reference; each source has its own id space. */
  @PrimaryColumn({ type: 'varchar', length: 42 })
  source!: string;

  @PrimaryColumn({ type: 'varchar', length: 256 })
  reference!: string;

  @Column({ type: 'varchar', length: 42 })
  patient!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
