/**
 * Writes the published equations (Pooled Cohort Equations, CKD-EPI 2021) as model artifacts into
 * models/, where the node publishes and anchors them like the trained models.
 *
 *   npm run equations
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { serializeArtifact } from '../src/ml/artifact.js';
import { defaultDataDir } from '../src/ml/datasets.js';
import { EQUATION_ARTIFACTS } from '../src/ml/equation-artifacts.js';

const modelsDir = path.join(defaultDataDir(), '..', 'models');
for (const artifact of EQUATION_ARTIFACTS) {
  await writeFile(path.join(modelsDir, `${artifact.modelId}.model.json`), serializeArtifact(artifact));
  console.log(`wrote ${artifact.modelId}`);
}
