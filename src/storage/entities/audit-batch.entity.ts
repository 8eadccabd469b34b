import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** A Merkle root over a run of one patient's audit entries, anchored on chain. */
@Entity('audit_batch')
@Index(['patient', 'firstSeq'])
export class AuditBatchEntity {
  @PrimaryGeneratedColumn({ type: 'int' })
  id!: number;

  @Column({ type: 'varchar', length: 42 })
  patient!: string;

  @Column({ name: 'first_seq', type: 'int' })
  firstSeq!: number;

  @Column({ name: 'last_seq', type: 'int' })
  lastSeq!: number;

  @Column({ type: 'char', length: 64 })
  root!: string;

  @Column({ name: 'anchor_tx', type: 'varchar', length: 66 })
  anchorTx!: string;

  @Column({ name: 'anchor_block', type: 'int' })
  anchorBlock!: number;
}
