import { ALGORITHMS, algorithmById } from './algorithms/index.js';
import type { HyperParameters } from './algorithms/types.js';
import { ARTIFACT_FORMAT, canonicalJson, type ModelArtifact } from './artifact.js';
import { loadDataset, type Dataset } from './datasets.js';
import {
  crossValidate,
  DEFAULT_PROTOCOL,
  tune,
  type CvHooks,
  type CvProtocol,
  type CvResult,
} from './evaluate.js';
import { fitPreprocessor, transformRows } from './preprocess.js';

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

/** Cross-validates the algorithm on the dataset, then fits the served model on every row. */
export async function trainModel(parameters: TrainParameters): Promise<TrainResult> {
  const protocol = parameters.protocol ?? DEFAULT_PROTOCOL;
  const data = await loadDataset(parameters.dataset, parameters.dataDir);
  const algorithm = algorithmById(parameters.algorithm);
  const cv = await crossValidate(algorithm, data.spec.features, data.X, data.y, protocol, parameters.hooks);
  return { artifact: await fitFinal(data, parameters.algorithm, protocol, cv, parameters.now), cv };
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
  const preprocessing = fitPreprocessor(spec.features, X);
  const fitted = await algorithm.fit(transformRows(preprocessing, X), y, hyperParameters, protocol.seed);
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
    },
    algorithm: {
      id: algorithm.id,
      title: algorithm.title,
      engine: algorithm.engine,
      contributionMethod: algorithm.contributionMethod,
    },
    hyperParameters,
    grid: algorithm.grid(spec.features.length),
    features: spec.features.map((f) => ({
      name: f.name,
      description: f.description,
      unit: f.unit,
      kind: f.kind,
      range: [f.range[0], f.range[1]],
      chart: f.chart ?? null,
    })),
    preprocessing,
    model: fitted.state,
    evaluation: {
      method: 'repeated stratified k-fold cross-validation, tuning nested in each training fold',
      protocol,
      chosen: countChoices(cv.folds.map((f) => f.hyperParameters)),
    },
    metrics: cv.metrics,
    seed: protocol.seed,
    trainedAt: now.toISOString(),
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
