import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Caller } from '../auth/caller.js';
import { BadUserInputError, ForbiddenError, UnauthenticatedError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { DecryptionBudget } from '../records/decryption-budget.js';
import type { ChartRead } from '../records/record-service.js';
import type { ContentStore } from '../storage/content-store.js';
import { algorithmById } from './algorithms/index.js';
import { selectChartResources } from './chart-features.js';
import {
  canonicalJson,
  populationOf,
  serializeArtifact,
  type ArtifactFeature,
  type ModelArtifact,
} from './artifact.js';
import { datasetSpec, defaultDataDir } from './datasets.js';
import { DEFAULT_PROTOCOL } from './evaluate.js';
import { writeFileDurably } from '../durable-file.js';
import { ModelRegistry, type LoadedModel, type ModelLedger } from './model-registry.js';

export type { LoadedModel } from './model-registry.js';
import {
  exclusionFeature,
  PredictionService,
  type ModelAnswer,
  type Prediction,
} from './prediction-service.js';
import type { TrainingJobEntity } from '../storage/entities/index.js';
import type { TrainingJobStore } from '../storage/training-job-store.js';
import { isUuid } from '../uuid.js';
import { trainInPool } from './train-pool.js';
import type { TrainJob } from './train-worker.js';
import type { InMemoryRows } from './training.js';
import { TrainingJobs } from './training-jobs.js';

/** Opens a patient's chart for a caller; the implementation authorizes and audits the access. */
export interface ChartReader {
  open(caller: Caller, patient: string, budget?: DecryptionBudget): Promise<ChartRead>;
}

/** Trains one model and returns its artifact (default: on a worker thread, so the node keeps serving). */
export type Trainer = (
  job: TrainJob,
  hooks: { onFold: (done: number, total: number) => void; signal: AbortSignal },
) => Promise<ModelArtifact>;

export interface ModelServiceParameters {
  content: ContentStore;
  ledger: ModelLedger;
  chart: ChartReader;
  logger: Logger;
  /** Holds the training queue. */
  trainingJobs: TrainingJobStore;
  /** The `*.model.json` artifacts shipped with the node (read only). Default `<repo>/models`. */
  modelsDir?: string;
  /** Where models trained by this node are written (`<data dir>/models` in the node). Default `modelsDir`. */
  trainedModelsDir?: string;
  dataDir?: string;
  trainer?: Trainer;
  now?: () => Date;
  /** Throws FORBIDDEN unless the caller is a validly attested ANALYST (ADMIN needs none). */
  requireAttestedAnalyst?: (caller: Caller) => Promise<unknown>;
  /** Replicas of one node: training runs on the leader (see TrainingJobsParameters.replica). */
  replica?: { leads(): boolean; announce(id: string): void };
}

const TRAINER_ROLES = new Set(['ADMIN', 'ANALYST']);
/** Dataset ids of research cohorts (`cohort-<hash>`): their rows never exist as a file. */
export const COHORT_DATASET_PREFIX = 'cohort-';

/** Registry + prediction + training behind one door for the resolvers. */
export class ModelService {
  readonly registry: ModelRegistry;
  private readonly predictions: PredictionService;
  private readonly modelsDir: string;
  private readonly trainedModelsDir: string;
  private readonly dataDir: string;
  private readonly trainer: Trainer;
  private readonly now: () => Date;
  private readonly jobs: TrainingJobs;
  /** Rows of research cohorts waiting for their training job; in memory only, dropped once used. */
  private readonly cohortRows = new Map<string, InMemoryRows>();

  constructor(private readonly parameters: ModelServiceParameters) {
    this.registry = new ModelRegistry(parameters);
    this.predictions = new PredictionService(this.registry);
    this.dataDir = parameters.dataDir ?? defaultDataDir();
    this.modelsDir = parameters.modelsDir ?? path.join(this.dataDir, '..', 'models');
    this.trainedModelsDir = parameters.trainedModelsDir ?? this.modelsDir;
    this.trainer =
      parameters.trainer ??
      (async (job, { onFold, signal }) =>
        (
          await trainInPool([job], { threads: 1, onFold: (_job, done, total) => onFold(done, total), signal })
        )[0].artifact);
    this.now = parameters.now ?? (() => new Date());
    this.jobs = new TrainingJobs({
      store: parameters.trainingJobs,
      logger: parameters.logger,
      run: (job, onFold, signal) => this.runTraining(job, onFold, signal),
      replica: parameters.replica,
    });
  }

  /**
   * Publishes the shipped and the locally trained artifacts (IPFS + chain anchor), the latest training
   * run of each model winning, loads the verified ones, and resumes unfinished training jobs.
   */
  async start(): Promise<{ served: string[]; refused: { file: string; error: string }[] }> {
    const report = await this.registry.publishDirectories([this.modelsDir, this.trainedModelsDir]);
    this.parameters.logger.info('models served', { served: report.served, refused: report.refused.length });
    // A replica resumes jobs only once it leads (lead()).
    if (!this.parameters.replica) await this.jobs.resume();
    return report;
  }

  /** This replica became the leader: it runs the training queue. */
  async lead(): Promise<void> {
    await this.jobs.resume();
  }

  /** This replica no longer leads: a training in progress stops and waits for the next leader. */
  async follow(): Promise<void> {
    await this.jobs.pause();
  }

  /**
   * Another replica queued or changed a training job. A model it finished is loaded here (from
   * its chain anchor and IPFS) before this replica's watchers hear of it, so it is served here too.
   */
  async heardTraining(id: string): Promise<void> {
    await this.jobs.heard(id, async (job) => {
      if (job.state !== 'SUCCEEDED' || !job.modelId || this.parameters.replica?.leads()) return;
      this.registry.forget(job.modelId);
      await this.registry.load(job.modelId);
    });
  }

  /** Stops a training in progress; it runs again at the next start. */
  close(): Promise<void> {
    return this.jobs.close();
  }

  /** Model cards; public (they describe models, not patients). */
  models(): LoadedModel[] {
    return this.registry.list();
  }

  /** Any authenticated caller may score a feature vector (no patient data is read). */
  predict(caller: Caller | null, modelId: string, features: unknown): Prediction {
    requireCaller(caller);
    return this.predictions.predict(modelId, features);
  }

  /**
   * Opens the patient's chart through `chart` (which authorizes and audits), decrypts only the
   * records the model's features need (the Patient, the latest coded Observation per feature, the
   * matching Conditions: see selectChartResources), then predicts.
   */
  async predictForPatient(
    caller: Caller | null,
    patient: string,
    modelId: string,
    budget?: DecryptionBudget,
  ): Promise<Prediction> {
    const who = requireCaller(caller);
    const model = this.registry.get(modelId); // unknown model → NOT_FOUND before any chart is read
    const now = this.now();
    const chart = await this.parameters.chart.open(who, patient, budget);
    const resources = await selectChartResources(model.artifact.features, now, chart);
    return this.predictions.predictFromChart(modelId, resources, now);
  }

  /**
   * Every served model on one chart, opened once with the same authorization and audit as
   * predictForPatient; decrypts only the records the models' features need.
   */
  async predictionsForPatient(
    caller: Caller | null,
    patient: string,
    budget?: DecryptionBudget,
  ): Promise<ModelAnswer[]> {
    const who = requireCaller(caller);
    const models = this.registry.list();
    const now = this.now();
    const chart = await this.parameters.chart.open(who, patient, budget);
    const features = new Map<string, ArtifactFeature>();
    for (const model of models) {
      const exclusion = populationOf(model.artifact)?.excludedBy;
      for (const feature of [
        ...model.artifact.features,
        ...(exclusion ? [exclusionFeature(exclusion.snomed)] : []),
      ]) {
        if (feature.chart) features.set(canonicalJson(feature.chart), feature);
      }
    }
    const resources = await selectChartResources([...features.values()], now, chart);
    return this.predictions.predictAllFromChart(models, resources, now);
  }

  /** ADMIN (a local role from OMNICHART_ADMINS) or an ANALYST whose attestation is valid now. */
  private async requireTrainer(caller: Caller | null): Promise<Caller> {
    const who = requireCaller(caller);
    if (!TRAINER_ROLES.has(who.role)) {
      throw new ForbiddenError('training models needs the ADMIN or an attested ANALYST role');
    }
    if (who.role === 'ANALYST') await this.parameters.requireAttestedAnalyst?.(who);
    return who;
  }

  /**
   * ADMIN/ANALYST: queues a training run (cross-validation, final fit, artifact written, anchored,
   * served) and answers at once; jobs run one at a time. Follow it with `trainingJob` or
   * `watchTraining`.
   */
  async startTraining(caller: Caller | null, dataset: string, algorithm: string): Promise<TrainingJobEntity> {
    const who = await this.requireTrainer(caller);
    const spec = datasetSpec(dataset);
    const algo = algorithmById(algorithm);
    return this.jobs.submit(who.address, spec.id, algo.id);
  }

  /** ADMIN/ANALYST: trains as startTraining does and answers with the served model when it is done. */
  async trainModel(caller: Caller | null, dataset: string, algorithm: string): Promise<LoadedModel> {
    const job = await this.startTraining(caller, dataset, algorithm);
    const done = await this.jobs.finished(job.id);
    if (done.state !== 'SUCCEEDED')
      throw new Error(`training job ${job.id} failed: ${done.error ?? done.state}`);
    return this.registry.load(done.modelId!);
  }

  /**
   * Trains on a research cohort's rows through the same queue, answering with the served model.
   * The caller (src/research) has decided the analyst may use these charts; the rows stay in this
   * process, and a node stopped before the job ran forgets them (the job then fails: ask again).
   */
  async trainOnCohort(requestedBy: string, rows: InMemoryRows, algorithm: string): Promise<LoadedModel> {
    const algo = algorithmById(algorithm);
    this.cohortRows.set(rows.spec.id, rows);
    // The rows are only in this process: the job runs here, on a follower replica too.
    const job = await this.jobs.submit(requestedBy, rows.spec.id, algo.id, { local: true });
    const done = await this.jobs.finished(job.id);
    if (done.state !== 'SUCCEEDED')
      throw new Error(`training job ${job.id} failed: ${done.error ?? done.state}`);
    return this.registry.load(done.modelId!);
  }

  /** ADMIN/ANALYST: a training job's state and progress. */
  async trainingJob(caller: Caller | null, id: string): Promise<TrainingJobEntity> {
    await this.requireTrainer(caller);
    return this.jobs.get(jobId(id));
  }

  /** ADMIN/ANALYST: the job now, then each change until it has SUCCEEDED or FAILED. */
  async watchTraining(caller: Caller | null, id: string): Promise<AsyncIterableIterator<TrainingJobEntity>> {
    await this.requireTrainer(caller);
    return this.jobs.watch(jobId(id));
  }

  private async runTraining(
    job: Readonly<TrainingJobEntity>,
    onFold: (done: number, total: number) => void,
    signal: AbortSignal,
  ): Promise<string> {
    const rows = this.cohortRows.get(job.dataset);
    this.cohortRows.delete(job.dataset);
    if (!rows && job.dataset.startsWith(COHORT_DATASET_PREFIX)) {
      throw new Error('the rows of a cohort training are kept only in memory: ask for it again');
    }
    const artifact = await this.trainer(
      {
        dataset: job.dataset,
        algorithm: job.algorithm,
        protocol: DEFAULT_PROTOCOL,
        dataDir: this.dataDir,
        ...(rows ? { rows } : {}),
      },
      { onFold, signal },
    );
    const bytes = serializeArtifact(artifact);
    await mkdir(this.trainedModelsDir, { recursive: true });
    await writeFileDurably(path.join(this.trainedModelsDir, `${artifact.modelId}.model.json`), bytes);
    await this.registry.publish(bytes, { source: `training job ${job.id}`, replace: true });
    await this.registry.load(artifact.modelId);
    return artifact.modelId;
  }
}

function jobId(id: string): string {
  if (!isUuid(id)) throw new BadUserInputError(`not a training job id: ${id.slice(0, 64)}`);
  return id.toLowerCase();
}

function requireCaller(caller: Caller | null): Caller {
  if (!caller) throw new UnauthenticatedError();
  return caller;
}
