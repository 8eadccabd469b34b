import type { DataSource } from 'typeorm';
import { In } from 'typeorm';
import { TrainingJobEntity } from './entities/index.js';

/** The training_job table: the training queue, as it survives a restart. */
export class TrainingJobStore {
  constructor(private readonly dataSource: DataSource) {}

  private get jobs() {
    return this.dataSource.getRepository(TrainingJobEntity);
  }

  /** Jobs queued or running, oldest first. */
  async unfinished(): Promise<TrainingJobEntity[]> {
    return this.jobs.find({ where: { state: In(['QUEUED', 'RUNNING']) }, order: { createdAt: 'ASC' } });
  }

  /** The job queued or running for this dataset and algorithm, if any. */
  async unfinishedFor(dataset: string, algorithm: string): Promise<TrainingJobEntity | null> {
    return this.jobs.findOneBy({ dataset, algorithm, state: In(['QUEUED', 'RUNNING']) });
  }

  async add(job: Omit<TrainingJobEntity, 'createdAt'>): Promise<TrainingJobEntity> {
    return this.jobs.save(this.jobs.create(job));
  }

  async get(id: string): Promise<TrainingJobEntity | null> {
    return this.jobs.findOneBy({ id });
  }

  async update(id: string, fields: Partial<Omit<TrainingJobEntity, 'id'>>): Promise<void> {
    await this.jobs.update(id, fields);
  }
}
