import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

export type TrainingState = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED';

/**
 * A training request (trainModel / startTraining). Stored before it is acknowledged, so a restart
 * resumes what was queued or running; its progress is kept up to date while it runs.
 */
@Entity('training_job')
@Index('IDX_training_job_open', ['state', 'createdAt'])
export class TrainingJobEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @Column({ type: 'varchar', length: 32 })
  dataset!: string;

  @Column({ type: 'varchar', length: 32 })
  algorithm!: string;

  @Column({ type: 'varchar', length: 16 })
  state!: TrainingState;

  @Column({ name: 'folds_done', type: 'int', default: 0 })
  foldsDone!: number;

  @Column({ name: 'folds_total', type: 'int', nullable: true })
  foldsTotal!: number | null;

  @Column({ name: 'requested_by', type: 'varchar', length: 42 })
  requestedBy!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'started_at', type: 'timestamptz', nullable: true })
  startedAt!: Date | null;

  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true })
  finishedAt!: Date | null;

  /** Why a FAILED job failed (a message, never a stack). */
  @Column({ type: 'text', nullable: true })
  error!: string | null;

  /** The model a SUCCEEDED job serves. */
  @Column({ name: 'model_id', type: 'varchar', length: 64, nullable: true })
  modelId!: string | null;
}
