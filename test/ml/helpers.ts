import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { algorithmById } from '../../src/ml/algorithms/index.js';
import { metricsHash, parseArtifact, type ModelArtifact } from '../../src/ml/artifact.js';
import type { LoadedModel } from '../../src/ml/model-registry.js';

export const modelsDir = path.resolve(import.meta.dirname, '..', '..', 'models');

/** The committed artifact served for a dataset (models/<dataset>-<algorithm>.model.json). */
export function servedArtifactFile(dataset: string): string {
  const file = readdirSync(modelsDir).find((f) => f.startsWith(`${dataset}-`) && f.endsWith('.model.json'));
  if (!file) throw new Error(`no committed model for ${dataset}: run npm run train`);
  return path.join(modelsDir, file);
}

export function servedArtifact(dataset: string): ModelArtifact {
  const file = servedArtifactFile(dataset);
  return parseArtifact(readFileSync(file), file);
}

/** A model as the registry would hand it out, without a chain (unit tests of prediction only). */
export function unanchoredModel(artifact: ModelArtifact): LoadedModel {
  return {
    artifact,
    cid: 'bafy-not-anchored',
    metricsHash: metricsHash(artifact.metrics),
    anchor: { txHash: '0x00', blockNumber: 0 },
    predictor: algorithmById(artifact.algorithm.id).load(artifact.model),
  };
}
