import { createHash } from 'node:crypto';
import { IntegrityError } from '../errors.js';
import type { AlgorithmId, HyperParameters } from './algorithms/types.js';
import type { CvProtocol } from './evaluate.js';
import type { ChartSource } from './features.js';
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

/** Everything needed to serve, audit and reproduce one model. Serialized with `canonicalJson`. */
export interface ModelArtifact {
  format: typeof ARTIFACT_FORMAT;
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
  };
  metrics: MetricsSummary;
  seed: number;
  trainedAt: string;
}

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

export function serializeArtifact(artifact: ModelArtifact): Uint8Array {
  return new TextEncoder().encode(`${canonicalJson(artifact)}\n`);
}

/** The hash anchored on chain beside the CID: sha256 of the canonical JSON of the metrics, 0x bytes32. */
export function metricsHash(metrics: MetricsSummary): string {
  return `0x${createHash('sha256').update(canonicalJson(metrics)).digest('hex')}`;
}

/** Parses artifact bytes and checks the shape the rest of the code relies on. */
export function parseArtifact(bytes: Uint8Array, source: string): ModelArtifact {
  let artifact: ModelArtifact;
  try {
    artifact = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as ModelArtifact;
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
  return artifact;
}
