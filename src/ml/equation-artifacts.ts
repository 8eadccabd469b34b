import { ARTIFACT_FORMAT, artifactFeatures, type EquationArtifact } from './artifact.js';
import { EQUATIONS, type EquationSpec } from './equations.js';

/** Fixed per coefficient version: rebuilding gives the same bytes, so the CID and anchor stay. */
const BUILT_AT = '2026-12-02T00:00:00.000Z';

/** The artifact of a published equation, shipped in models/ and anchored like a trained model. */
export function equationArtifact(spec: EquationSpec): EquationArtifact {
  const d = spec.features.length;
  return {
    format: ARTIFACT_FORMAT,
    kind: 'equation',
    modelId: spec.modelId,
    equation: spec.equation,
    title: spec.title,
    reference: spec.reference,
    positive: spec.positive,
    population: spec.population,
    output: spec.output,
    features: artifactFeatures(spec.features),
    preprocessing: {
      features: spec.features.map((f) => f.name),
      log: new Array<boolean>(d).fill(false),
      impute: new Array<number>(d).fill(0),
      mean: new Array<number>(d).fill(0),
      scale: new Array<number>(d).fill(1),
    },
    model: spec.coefficients,
    validation: spec.validation,
    metrics: null,
    calibration: {
      method: 'published equation: no calibration added',
      platt: null,
      brier: null,
      reliability: [],
      note: 'no outcome data here to measure a Brier score or reliability table; see validation',
    },
    trainedAt: BUILT_AT,
  };
}

export const EQUATION_ARTIFACTS: readonly EquationArtifact[] = EQUATIONS.map(equationArtifact);
