import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Resource } from '@medplum/fhirtypes';
import type { Caller } from '../auth/caller.js';
import { ForbiddenError, UnauthenticatedError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ContentStore } from '../storage/content-store.js';
import { algorithmById } from './algorithms/index.js';
import { serializeArtifact, type ModelArtifact } from './artifact.js';
import { datasetSpec, defaultDataDir } from './datasets.js';
import { DEFAULT_PROTOCOL } from './evaluate.js';
import { ModelRegistry, type LoadedModel, type ModelLedger } from './model-registry.js';

export type { LoadedModel } from './model-registry.js';
import { PredictionService, type Prediction } from './prediction-service.js';
import { trainInPool } from './train-pool.js';
import type { TrainJob } from './train-worker.js';

/** Reads a patient's resources for a caller; the implementation authorizes and audits the access. */
export interface ChartReader {
  resourcesOf(caller: Caller, patient: string, types: string[]): Promise<Resource[]>;
}

/** Trains one model and returns its artifact (default: on a worker thread, so the node keeps serving). */
export type Trainer = (job: TrainJob) => Promise<ModelArtifact>;

export interface ModelServiceParameters {
  content: ContentStore;
  ledger: ModelLedger;
  chart: ChartReader;
  logger: Logger;
  /** Where `*.model.json` artifacts live (published at start, written by trainModel). Default `<repo>/models`. */
  modelsDir?: string;
  dataDir?: string;
  trainer?: Trainer;
  now?: () => Date;
}

const TRAINER_ROLES = new Set(['ADMIN', 'ANALYST']);
const CHART_TYPES = ['Patient', 'Observation', 'Condition'];

/** Registry + prediction + training behind one door for the resolvers. */
export class ModelService {
  readonly registry: ModelRegistry;
  private readonly predictions: PredictionService;
  private readonly modelsDir: string;
  private readonly dataDir: string;
  private readonly trainer: Trainer;
  private readonly now: () => Date;
  private training: Promise<unknown> = Promise.resolve();

  constructor(private readonly parameters: ModelServiceParameters) {
    this.registry = new ModelRegistry(parameters);
    this.predictions = new PredictionService(this.registry);
    this.dataDir = parameters.dataDir ?? defaultDataDir();
    this.modelsDir = parameters.modelsDir ?? path.join(this.dataDir, '..', 'models');
    this.trainer =
      parameters.trainer ?? (async (job) => (await trainInPool([job], { threads: 1 }))[0].artifact);
    this.now = parameters.now ?? (() => new Date());
  }

  /** Publishes every artifact in the models directory (IPFS + chain anchor) and loads the verified ones. */
  async start(): Promise<{ served: string[]; refused: { file: string; error: string }[] }> {
    const report = await this.registry.publishDirectory(this.modelsDir);
    this.parameters.logger.info('models served', { served: report.served, refused: report.refused.length });
    return report;
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

  /** Reads the patient's chart through `chart` (which authorizes and audits), then predicts. */
  async predictForPatient(caller: Caller | null, patient: string, modelId: string): Promise<Prediction> {
    const who = requireCaller(caller);
    this.registry.get(modelId); // unknown model → NOT_FOUND before any chart is read
    const resources = await this.parameters.chart.resourcesOf(who, patient, CHART_TYPES);
    return this.predictions.predictFromChart(modelId, resources, this.now());
  }

  /** ADMIN/ANALYST: trains (CV + final fit), writes the artifact, anchors it and serves it. One at a time. */
  async trainModel(caller: Caller | null, dataset: string, algorithm: string): Promise<LoadedModel> {
    const who = requireCaller(caller);
    if (!TRAINER_ROLES.has(who.role))
      throw new ForbiddenError('training models needs the ADMIN or ANALYST role');
    const spec = datasetSpec(dataset);
    const algo = algorithmById(algorithm);
    const run = this.training.then(async () => {
      const artifact = await this.trainer({
        dataset: spec.id,
        algorithm: algo.id,
        protocol: DEFAULT_PROTOCOL,
        dataDir: this.dataDir,
      });
      const bytes = serializeArtifact(artifact);
      await mkdir(this.modelsDir, { recursive: true });
      await writeFile(path.join(this.modelsDir, `${artifact.modelId}.model.json`), bytes);
      await this.registry.publish(bytes, { source: `trainModel ${artifact.modelId}`, replace: true });
      return this.registry.load(artifact.modelId);
    });
    this.training = run.catch(() => undefined);
    return run;
  }
}

function requireCaller(caller: Caller | null): Caller {
  if (!caller) throw new UnauthenticatedError();
  return caller;
}
