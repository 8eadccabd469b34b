import { createHash } from 'node:crypto';
import { IntegrityError } from '../errors.js';
import { isEquation } from './equations.js';
import type { AlgorithmId, HyperParameters } from './algorithms/types.js';
import type { PlattCalibration, ReliabilityBin } from './calibration.js';
import type { Population } from './datasets.js';
import type { EquationId } from './equations.js';
import type { CvProtocol } from './evaluate.js';
import type { ChartSource, FeatureSpec } from './features.js';
import type { MetricsSummary } from './metrics.js';
import type { Preprocessor } from './preprocess.js';

export const ARTIFACT_FORMAT = 'omnichart-model/1';

export interface ArtifactFeature {
  name: string;
  description: string;
  unit: string;
  kind: string;
  range: [number, number];
  chart: ChartSource | null;
}

/** Feature specs as an artifact lists them (plain JSON: the range as a pair, no chart source as null). */
export function artifactFeatures(specs: readonly FeatureSpec[]): ArtifactFeature[] {
  return specs.map((f) => ({
    name: f.name,
    description: f.description,
    unit: f.unit,
    kind: f.kind,
    range: [f.range[0], f.range[1]],
    chart: f.chart ?? null,
  }));
}

/** Everything needed to serve, audit and reproduce one trained model. Serialized with `canonicalJson`. */
export interface ModelArtifact {
  format: typeof ARTIFACT_FORMAT;
  kind?: undefined;
  modelId: string;
  dataset: {
    id: string;
    title: string;
    file: string;
    sha256: string;
    rows: number;
    positives: number;
    positive: string;
    maxMissingFraction: number;
    population: Population;
    /** Set for a chart-native variant: the full-feature dataset it takes its columns from. */
    base?: string;
  };
  algorithm: { id: AlgorithmId; title: string; engine: string; contributionMethod: string };
  /** Chosen by inner CV on the full dataset for this final model. */
  hyperParameters: HyperParameters;
  /** Candidates the nested tuning chose from. */
  grid: HyperParameters[];
  features: ArtifactFeature[];
  preprocessing: Preprocessor;
  model: unknown;
  evaluation: {
    method: 'repeated stratified k-fold cross-validation, tuning nested in each training fold';
    protocol: CvProtocol;
    /** Hyper-parameters chosen per outer fold, with how often each was chosen. */
    chosen: { hyperParameters: HyperParameters; folds: number }[];
    /**
     * P(1) of every outer test fold, in the protocol's fold order and each fold's ascending row order
     * (the folds are re-derived from the labels and the seed): what the calibration tables summarize.
     */
    predictions: number[][];
  };
  /** Calibration of the served probabilities and, on the CV folds, how well calibrated they were. */
  calibration: {
    /** How the served model's probabilities are calibrated (see Algorithm.calibration). */
    method: string;
    /** Platt scaling fitted on inner-CV predictions of the training rows, when the trainer adds it. */
    platt: PlattCalibration | null;
    /** Brier score over all pooled CV test predictions. */
    brier: number;
    /** Predicted vs observed rate per decile of predicted risk, pooled over the CV test folds. */
    reliability: ReliabilityBin[];
  };
  /** For a chart-native variant: the full-feature model on the same folds. */
  comparison?: {
    fullFeatureModel: string;
    features: string[];
    fullMetrics: MetricsSummary;
    /** Chart-native minus full-feature mean accuracy, in percentage points. */
    accuracyGapPoints: number;
    aucGap: number;
  };
  metrics: MetricsSummary;
  seed: number;
  trainedAt: string;
  /** Set for a model trained on a research cohort's charts at this node. */
  cohort?: CohortProvenance;
}

/** Where a cohort-trained model's rows came from; the rows themselves are kept nowhere. */
export interface CohortProvenance {
  /** The organization whose analysts may use the patients' `research` grants. */
  organization: string;
  /** `system|code` of the Condition whose presence is the label. */
  condition: string;
  /** Consenting patients whose charts became rows. */
  size: number;
  positives: number;
  /** Always false: rows were built, used and dropped inside the node; only this artifact left it. */
  rowsLeftNode: false;
  /** Address of the analyst who asked. */
  requestedBy: string;
}

/** A published equation served as a model: its coefficients, inputs, population and what is known of it. */
export interface EquationArtifact {
  format: typeof ARTIFACT_FORMAT;
  kind: 'equation';
  modelId: string;
  equation: EquationId;
  title: string;
  reference: string;
  /** What label 1 means. */
  positive: string;
  population: Population;
  output: { kind: 'probability' | 'value'; unit: string; description: string };
  features: ArtifactFeature[];
  /** The identity (inputs are used as given); every input is required. */
  preprocessing: Preprocessor;
  /** The published coefficients. */
  model: unknown;
  validation: string;
  /** No cross-validation: there is no outcome data to measure an equation on. */
  metrics: null;
  calibration: { method: string; platt: null; brier: null; reliability: []; note: string };
  /** When this artifact was built (fixed per coefficient version, so its CID is stable). */
  trainedAt: string;
}

export type AnyArtifact = ModelArtifact | EquationArtifact;

/** JSON with object keys sorted at every level, no whitespace: equal values give equal bytes. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw new Error(`cannot serialize ${value} in an artifact`);
  }
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(entries.map(([k, v]) => [k, sortKeys(v)]));
  }
  return value;
}

export function serializeArtifact(artifact: AnyArtifact): Uint8Array {
  return new TextEncoder().encode(`${canonicalJson(artifact)}\n`);
}

/** The hash anchored on chain beside the CID: sha256 of the canonical JSON of the metrics, 0x bytes32. */
export function metricsHash(metrics: MetricsSummary | null): string {
  return `0x${createHash('sha256').update(canonicalJson(metrics)).digest('hex')}`;
}

/** Parses artifact bytes and checks the shape the rest of the code relies on. */
export function parseArtifact(bytes: Uint8Array, source: string): AnyArtifact {
  let artifact: AnyArtifact;
  try {
    artifact = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as AnyArtifact;
  } catch (error) {
    throw new IntegrityError(`model artifact ${source} is not valid JSON: ${(error as Error).message}`);
  }
  if (artifact?.format !== ARTIFACT_FORMAT || typeof artifact.modelId !== 'string') {
    throw new IntegrityError(`model artifact ${source} is not an ${ARTIFACT_FORMAT} artifact`);
  }
  if (
    !Array.isArray(artifact.features) ||
    artifact.preprocessing?.features?.join(',') !== artifact.features.map((f) => f.name).join(',')
  ) {
    throw new IntegrityError(`model artifact ${source}: features and preprocessing disagree`);
  }
  if (artifact.kind === 'equation' && !isEquation(artifact.equation)) {
    throw new IntegrityError(`model artifact ${source}: unknown equation ${String(artifact.equation)}`);
  }
  return artifact;
}

/** Largest share of features a chart may miss (imputed) before the model refuses; equations need all. */
export function maxMissingFraction(artifact: AnyArtifact): number {
  return artifact.kind === 'equation' ? 0 : artifact.dataset.maxMissingFraction;
}

/** Who the model's rows (or an equation's validation) describe. */
export function populationOf(artifact: AnyArtifact): Population | undefined {
  return artifact.kind === 'equation' ? artifact.population : artifact.dataset.population;
}

/** What label 1 means. */
export function positiveOf(artifact: AnyArtifact): string {
  return artifact.kind === 'equation' ? artifact.positive : artifact.dataset.positive;
}
