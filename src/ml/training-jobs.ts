import { randomUUID } from 'node:crypto';
import { EventEmitter, on } from 'node:events';
import { NotFoundError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TrainingJobEntity } from '../storage/entities/index.js';
import type { TrainingJobStore } from '../storage/training-job-store.js';

/** Trains, publishes and serves the job's model; reports outer folds as they finish; returns the model id. */
export type RunTrainingJob = (
  job: Readonly<TrainingJobEntity>,
  onFold: (done: number, total: number) => void,
  signal: AbortSignal,
) => Promise<string>;

export interface TrainingJobsParameters {
  store: TrainingJobStore;
  run: RunTrainingJob;
  logger: Logger;
  /**
   * Replicas of one node: jobs run on the leader only; every submission and change is announced to
   * the other replicas (they re-read the job, see `heard`). Absent: this process runs every job.
   */
  replica?: { leads(): boolean; announce(id: string): void };
}

const TERMINAL = new Set(['SUCCEEDED', 'FAILED']);

function isFinished(job: TrainingJobEntity): boolean {
  return TERMINAL.has(job.state);
}

/**
 * The training queue. Jobs run one at a time in request order (one takes a core for seconds to
 * minutes). A job is stored before it is acknowledged and every state change is stored before
 * watchers hear of it; a node stopped mid-training runs the job again from the start when it comes
 * back (`resume`).
 */
export class TrainingJobs {
  private tail: Promise<void> = Promise.resolve();
  /** Emits each stored change under the job's id. */
  private readonly changes = new EventEmitter().setMaxListeners(0);
  private stopping = new AbortController();
  /** Ends watchers when the node stops (a step-down only stops the running job). */
  private readonly closing = new AbortController();
  /** Jobs queued in this process (not yet finished here). */
  private readonly enqueued = new Set<string>();

  constructor(private readonly parameters: TrainingJobsParameters) {}

  private get store(): TrainingJobStore {
    return this.parameters.store;
  }

  private get leads(): boolean {
    return this.parameters.replica?.leads() ?? true;
  }

  /**
   * Queues what a previous run of the node (or a replica that led before) left queued or running,
   * oldest first. Call when this process starts to lead.
   */
  async resume(): Promise<number> {
    const open = (await this.store.unfinished()).filter((job) => !this.enqueued.has(job.id));
    for (const job of open) {
      await this.store.update(job.id, { state: 'QUEUED', foldsDone: 0, startedAt: null });
      this.enqueue(job.id);
    }
    if (open.length > 0) this.parameters.logger.info('training jobs resumed', { jobs: open.length });
    return open.length;
  }

  /**
   * Queues a job, or returns the one already queued or running for the same dataset and algorithm
   * (it would train the same model): the queue never holds more than one job per model. A `local` job
   * (its inputs exist only in this process, as a cohort's rows do) runs here whether or not this
   * replica leads, and is not announced while it waits, so the leader never picks it up.
   */
  async submit(
    requestedBy: string,
    dataset: string,
    algorithm: string,
    options: { local?: boolean } = {},
  ): Promise<TrainingJobEntity> {
    const open = await this.store.unfinishedFor(dataset, algorithm);
    if (open) return open;
    const job: TrainingJobEntity = await this.store.add({
      id: randomUUID(),
      dataset,
      algorithm,
      state: 'QUEUED',
      foldsDone: 0,
      foldsTotal: null,
      requestedBy,
      startedAt: null,
      finishedAt: null,
      error: null,
      modelId: null,
    });
    if (this.leads || options.local) this.enqueue(job.id);
    if (!options.local) this.parameters.replica?.announce(job.id);
    return job;
  }

  /**
   * Another replica queued or changed a job: tell this process's watchers (after `prepare`, e.g.
   * loading the model it made), and run it here when this process leads and it waits.
   */
  async heard(id: string, prepare?: (job: TrainingJobEntity) => Promise<void>): Promise<void> {
    const job = await this.store.get(id);
    if (!job) return;
    await prepare?.(job);
    this.changes.emit(id, job);
    if (this.leads && job.state === 'QUEUED' && !this.enqueued.has(id)) this.enqueue(id);
  }

  /** Stops the running job (it stays RUNNING, for the next leader) and forgets the queue here. */
  async pause(): Promise<void> {
    this.stopping.abort();
    await this.tail;
    this.enqueued.clear();
    this.stopping = new AbortController();
  }

  /** @throws NotFoundError for an unknown id */
  async get(id: string): Promise<TrainingJobEntity> {
    const job = await this.store.get(id);
    if (!job) throw new NotFoundError(`no training job ${id}`);
    return job;
  }

  /** Resolves with the job once it has SUCCEEDED or FAILED. */
  async finished(id: string): Promise<TrainingJobEntity> {
    for await (const job of await this.watch(id)) if (isFinished(job)) return job;
    return this.get(id); // the node stopped before the job finished
  }

  /**
   * The job now, then every change (each finished fold, the end), ending after SUCCEEDED or FAILED or
   * when the node stops.
   * @throws NotFoundError for an unknown id
   */
  async watch(id: string): Promise<AsyncGenerator<TrainingJobEntity>> {
    // Listening starts before the read, so no change can fall between the two.
    const changes = on(this.changes, id, { signal: this.closing.signal });
    let current: TrainingJobEntity;
    try {
      current = await this.get(id);
    } catch (error) {
      await changes.return?.();
      throw error;
    }
    return (async function* () {
      try {
        yield current;
        if (isFinished(current)) return;
        for await (const [job] of changes as AsyncIterable<[TrainingJobEntity]>) {
          yield job;
          if (isFinished(job)) return;
        }
      } catch (error) {
        if ((error as Error).name !== 'AbortError') throw error;
      } finally {
        await changes.return?.();
      }
    })();
  }

  /** Stops the running job (it stays RUNNING in Postgres and runs again after a restart) and waits. */
  async close(): Promise<void> {
    this.closing.abort();
    this.stopping.abort();
    await this.tail;
  }

  private enqueue(id: string): void {
    this.enqueued.add(id);
    const signal = this.stopping.signal;
    this.tail = this.tail
      .then(() => this.runOne(id, signal))
      .finally(() => this.enqueued.delete(id))
      .catch((error: Error) =>
        // Postgres failed around the job: it stays QUEUED or RUNNING and runs again at the next start.
        this.parameters.logger.error('training job not run', { id, error: error.message }),
      );
  }

  private async runOne(id: string, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    // Another leader may have run it meanwhile (a handover); only a waiting job starts here.
    if ((await this.get(id)).state !== 'QUEUED') return;
    const job = await this.change(id, { state: 'RUNNING', startedAt: new Date() });
    let progress = Promise.resolve();
    const onFold = (done: number, total: number) => {
      // In order, one write at a time; a failed progress write only costs a stale fold count.
      progress = progress
        .then(() => this.change(id, { foldsDone: done, foldsTotal: total }))
        .then(
          () => undefined,
          (error: Error) =>
            this.parameters.logger.warn('training progress not saved', { id, error: error.message }),
        );
    };
    try {
      const modelId = await this.parameters.run(job, onFold, signal);
      await progress;
      await this.change(id, { state: 'SUCCEEDED', modelId, finishedAt: new Date() });
      this.parameters.logger.info('training job succeeded', { id, modelId });
    } catch (error) {
      await progress;
      if (signal.aborted) return; // interrupted by shutdown or step-down: resumed by the next leader
      const message = error instanceof Error ? error.message : String(error);
      this.parameters.logger.error('training job failed', { id, error: message });
      await this.change(id, { state: 'FAILED', error: message.slice(0, 2000), finishedAt: new Date() }).catch(
        (saveError: Error) =>
          this.parameters.logger.error('training failure not saved', { id, error: saveError.message }),
      );
    }
  }

  /** Stores a change, then tells the job's watchers. */
  private async change(id: string, fields: Partial<TrainingJobEntity>): Promise<TrainingJobEntity> {
    await this.store.update(id, fields);
    const job = await this.get(id);
    this.changes.emit(id, job);
    this.parameters.replica?.announce(id);
    return job;
  }
}
