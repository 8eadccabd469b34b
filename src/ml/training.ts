import { ALGORITHMS, algorithmById } from './algorithms/index.js';
import type { HyperParameters } from './algorithms/types.js';
import { ARTIFACT_FORMAT, artifactFeatures, canonicalJson, type ModelArtifact } from './artifact.js';
import { loadDataset, type Dataset } from './datasets.js';
import type { CohortProvenance } from './artifact.js';
import {
  crossValidate,
  DEFAULT_PROTOCOL,
  fitOnRows,
  tune,
  type CvHooks,
  type CvProtocol,
  type CvResult,
} from './evaluate.js';
import { brierScore, reliabilityTable } from './calibration.js';
import { repeatedStratifiedKFold } from './folds.js';

export interface TrainParameters {
  dataset: string;
  algorithm: string;
  protocol?: CvProtocol;
  dataDir?: string;
  hooks?: CvHooks;
  /** Time written into the artifact (tests pin it). */
  now?: Date;
}

export interface TrainResult {
  artifact: ModelArtifact;
  cv: CvResult;
}

export function modelIdOf(dataset: string, algorithm: string): string {
  return `${dataset}-${algorithm}`;
}

/** Rows built in memory (a research cohort's charts) instead of read from a dataset file. */
export interface InMemoryRows extends Dataset {
  cohort: CohortProvenance;
}

/** Cross-validates the algorithm on the dataset, then fits the served model on every row. */
export async function trainModel(
  parameters: TrainParameters & { rows?: InMemoryRows },
): Promise<TrainResult> {
  const protocol = parameters.protocol ?? DEFAULT_PROTOCOL;
  const data = parameters.rows ?? (await loadDataset(parameters.dataset, parameters.dataDir));
  const algorithm = algorithmById(parameters.algorithm);
  const cv = await crossValidate(algorithm, data.spec.features, data.X, data.y, protocol, parameters.hooks);
  const artifact = await fitFinal(data, parameters.algorithm, protocol, cv, parameters.now);
  if (parameters.rows) {
    artifact.cohort = parameters.rows.cohort;
    // Per-row fold predictions describe patients one by one: a cohort model keeps only aggregates.
    artifact.evaluation.predictions = [];
  }
  return { artifact, cv };
}

async function fitFinal(
  data: Dataset,
  algorithmId: string,
  protocol: CvProtocol,
  cv: CvResult,
  now = new Date(),
): Promise<ModelArtifact> {
  const algorithm = algorithmById(algorithmId);
  const { spec, X, y } = data;
  const all = X.map((_, i) => i);
  const hyperParameters = await tune(algorithm, spec.features, X, y, all, protocol.seed, protocol.innerFolds);
  const fitted = await fitOnRows(
    algorithm,
    spec.features,
    X,
    y,
    all,
    hyperParameters,
    protocol.seed,
    protocol.innerFolds,
  );
  const pooled = pooledPredictions(y, protocol, cv);
  return {
    format: ARTIFACT_FORMAT,
    modelId: modelIdOf(spec.id, algorithm.id),
    dataset: {
      id: spec.id,
      title: spec.title,
      file: spec.file,
      sha256: data.sha256,
      rows: y.length,
      positives: y.filter((v) => v === 1).length,
      positive: spec.positive,
      maxMissingFraction: spec.maxMissingFraction,
      population: spec.population,
      ...(spec.base ? { base: spec.base } : {}),
    },
    algorithm: {
      id: algorithm.id,
      title: algorithm.title,
      engine: algorithm.engine,
      contributionMethod: algorithm.contributionMethod,
    },
    hyperParameters,
    grid: algorithm.grid(spec.features.length),
    features: artifactFeatures(spec.features),
    preprocessing: fitted.preprocessor,
    model: fitted.state,
    evaluation: {
      method: 'repeated stratified k-fold cross-validation, tuning nested in each training fold',
      protocol,
      chosen: countChoices(cv.folds.map((f) => f.hyperParameters)),
      predictions: cv.folds.map((f) => f.p),
    },
    calibration: {
      method: CALIBRATION_METHODS[algorithm.calibration],
      platt: fitted.calibration,
      brier: brierScore(pooled.y, pooled.p),
      reliability: reliabilityTable(pooled.y, pooled.p),
    },
    metrics: cv.metrics,
    seed: protocol.seed,
    trainedAt: now.toISOString(),
  };
}

const CALIBRATION_METHODS = {
  likelihood: 'none added: logistic regression fits probabilities by maximum likelihood',
  'platt-in-fit': 'Platt scaling on decision values of 5 held-out folds of the training rows',
  'platt-inner-cv': 'Platt scaling on out-of-fold predictions of an inner 5-fold CV of the training rows',
  none: 'none: uncalibrated scores (compared, not served)',
} as const;

/** Every outer test prediction with its label, pooled over the folds (rows repeat once per repeat). */
export function pooledPredictions(
  y: readonly number[],
  protocol: CvProtocol,
  cv: { folds: { p: readonly number[] }[] },
): { y: number[]; p: number[] } {
  const folds = repeatedStratifiedKFold(y, protocol.folds, protocol.repeats, protocol.seed);
  if (folds.length !== cv.folds.length) throw new Error('fold predictions do not match the protocol');
  return {
    y: folds.flatMap((fold) => fold.test.map((i) => y[i])),
    p: cv.folds.flatMap((fold) => [...fold.p]),
  };
}

function countChoices(choices: HyperParameters[]): { hyperParameters: HyperParameters; folds: number }[] {
  const counts = new Map<string, { hyperParameters: HyperParameters; folds: number }>();
  for (const choice of choices) {
    const key = canonicalJson(choice);
    const entry = counts.get(key) ?? { hyperParameters: choice, folds: 0 };
    entry.folds++;
    counts.set(key, entry);
  }
  return [...counts.values()].sort((a, b) => b.folds - a.folds);
}

export const ALGORITHM_IDS = ALGORITHMS.map((a) => a.id);
