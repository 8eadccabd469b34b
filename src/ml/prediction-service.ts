import type { Patient, Resource } from '@medplum/fhirtypes';
import { BadUserInputError } from '../errors.js';
import { maxMissingFraction, populationOf, positiveOf, type ArtifactFeature } from './artifact.js';
import {
  ageInYears,
  extractFeatures,
  type ChartExtraction,
  type FeatureSource,
  type MissingReason,
} from './chart-features.js';
import type { EquationPredictor } from './equations.js';
import type { MetricsSummary } from './metrics.js';
import type { LoadedModel, ModelRegistry } from './model-registry.js';
import { transformRow } from './preprocess.js';

export type FeatureProblemReason =
  'UNKNOWN_FEATURE' | 'NOT_A_NUMBER' | 'NOT_FINITE' | 'NOT_AN_INTEGER' | 'OUT_OF_RANGE';

export interface FeatureProblem {
  feature: string;
  reason: FeatureProblemReason;
  value?: unknown;
  range?: readonly [number, number];
  unit?: string;
}

export interface FeatureEffect {
  feature: string;
  /** Value used, in the model's unit (imputed values included). */
  value: number;
  unit: string;
  /** Push toward the positive label (> 0) or away from it, in the model's contribution unit. */
  effect: number;
}

export interface Prediction {
  modelId: string;
  /** 1 = the dataset's positive class. */
  label: number;
  labelName: string;
  /** P(label = 1); null for an equation whose answer is a value (eGFR). */
  probability: number | null;
  /** Equations: the computed value (risk in %, eGFR), its unit and category (risk band, KDIGO stage). */
  value: number | null;
  unit: string | null;
  category: string | null;
  cid: string;
  metricsHash: string;
  anchorTx: string;
  anchorBlock: number;
  /** Cross-validated metrics; null for a published equation (no outcome data here). */
  metrics: MetricsSummary | null;
  /** Features that pushed the prediction most, strongest first. */
  topFeatures: FeatureEffect[];
  contributionMethod: string;
  /** Features the input or the chart did not supply. */
  missing: { feature: string; reason: MissingReason | 'NOT_GIVEN'; detail?: string }[];
  /** Missing features filled with the training median (or most frequent value). */
  imputed: { feature: string; value: number; unit: string }[];
  /** For chart predictions: where each value came from. */
  sources: FeatureSource[];
}

const TOP_FEATURES = 5;

export type ModelAnswerStatus = 'ANSWERED' | 'MISSING_FEATURES' | 'DOES_NOT_APPLY' | 'REFUSED';

/** One model's answer for a chart in `predictionsForPatient`. */
export interface ModelAnswer {
  modelId: string;
  status: ModelAnswerStatus;
  /** Set when ANSWERED. */
  prediction: Prediction | null;
  /** Every feature the chart did not supply (imputed when ANSWERED, too many when MISSING_FEATURES). */
  missing: Prediction['missing'];
  /** Why it did not answer (DOES_NOT_APPLY, MISSING_FEATURES, REFUSED); null when ANSWERED. */
  reason: string | null;
}

/** Runs loaded models on validated feature vectors; synchronous after the model is loaded. */
export class PredictionService {
  constructor(private readonly registry: Pick<ModelRegistry, 'get'>) {}

  /** `features`: a JSON object { featureName: number | null }; absent or null features are imputed. */
  predict(modelId: string, features: unknown): Prediction {
    const model = this.registry.get(modelId);
    const values = validateFeatures(model.artifact.features, features);
    const missing = model.artifact.features
      .filter((f) => values[f.name] === null)
      .map((f) => ({ feature: f.name, reason: 'NOT_GIVEN' as const }));
    return this.run(model, values, missing, []);
  }

  /** Builds the feature vector from the patient's FHIR resources (latest coded Observations, Patient, Conditions). */
  predictFromChart(modelId: string, resources: readonly Resource[], now: Date): Prediction {
    const model = this.registry.get(modelId);
    const extraction: ChartExtraction = extractFeatures(model.artifact.features, resources, now);
    // Chart values pass the same range checks as client input: an implausible chart value is an error.
    validateFeatures(model.artifact.features, extraction.values);
    return this.run(model, extraction.values, extraction.missing, extraction.sources);
  }

  /**
   * Every model on one chart: the answer of each model whose population includes the patient and
   * whose features the chart supplies; for the others, why not (outside the population, exactly
   * which features are missing, or a chart value the model refuses).
   */
  predictAllFromChart(
    models: readonly LoadedModel[],
    resources: readonly Resource[],
    now: Date,
  ): ModelAnswer[] {
    return models.map((model) => {
      const modelId = model.artifact.modelId;
      const outside = outsidePopulation(model, resources, now);
      if (outside)
        return { modelId, status: 'DOES_NOT_APPLY', prediction: null, missing: [], reason: outside };
      const extraction = extractFeatures(model.artifact.features, resources, now);
      try {
        const prediction = this.predictFromChart(modelId, resources, now);
        return { modelId, status: 'ANSWERED', prediction, missing: prediction.missing, reason: null };
      } catch (error) {
        if (!(error instanceof BadUserInputError)) throw error;
        const tooMany = error.details?.reason === 'TOO_MANY_MISSING';
        return {
          modelId,
          status: tooMany ? 'MISSING_FEATURES' : 'REFUSED',
          prediction: null,
          missing: extraction.missing,
          reason: error.message,
        };
      }
    });
  }

  private run(
    model: LoadedModel,
    values: Record<string, number | null>,
    missing: Prediction['missing'],
    sources: FeatureSource[],
  ): Prediction {
    const { artifact, predictor } = model;
    const limit = maxMissingFraction(artifact);
    if (missing.length > limit * artifact.features.length) {
      throw new BadUserInputError(
        `too many features missing for ${artifact.modelId}: ${missing.length} of ${artifact.features.length} ` +
          `(at most ${Math.floor(limit * artifact.features.length)}): ${missing.map((m) => m.feature).join(', ')}`,
        { reason: 'TOO_MANY_MISSING', modelId: artifact.modelId, missing },
      );
    }
    const pre = artifact.preprocessing;
    const row = artifact.features.map((f) => values[f.name] ?? NaN);
    const z = transformRow(pre, row);
    const output = 'output' in predictor ? (predictor as EquationPredictor).output(z) : null;
    const probability = output ? output.probability : predictor.probability(z);
    const effects = predictor.contributions(z);
    const used = row.map((v, j) => (Number.isNaN(v) ? pre.impute[j] : v));
    const topFeatures = artifact.features
      .map((f, j) => ({ feature: f.name, value: used[j], unit: f.unit, effect: effects[j] }))
      .filter((e) => e.effect !== 0)
      .sort((a, b) => Math.abs(b.effect) - Math.abs(a.effect))
      .slice(0, TOP_FEATURES);
    const label = output ? output.label : probability! >= 0.5 ? 1 : 0;
    const positive = positiveOf(artifact);
    return {
      modelId: artifact.modelId,
      label,
      labelName: label === 1 ? positive : `${artifact.kind === 'equation' ? 'not' : 'no'} ${positive}`,
      probability,
      value: output?.value ?? null,
      unit: output?.unit ?? null,
      category: output?.category ?? null,
      cid: model.cid,
      metricsHash: model.metricsHash,
      anchorTx: model.anchor.txHash,
      anchorBlock: model.anchor.blockNumber,
      metrics: artifact.metrics,
      topFeatures,
      contributionMethod:
        artifact.kind === 'equation'
          ? 'none: a published equation (its coefficients are in the model card)'
          : artifact.algorithm.contributionMethod,
      missing,
      imputed: artifact.features.flatMap((f, j) =>
        Number.isNaN(row[j]) ? [{ feature: f.name, value: pre.impute[j], unit: f.unit }] : [],
      ),
      sources,
    };
  }
}

/**
 * Checks names, types and plausible ranges; returns every model feature as a number or null (missing).
 * All problems are reported at once in `details.problems`.
 */
export function validateFeatures(
  specs: readonly ArtifactFeature[],
  input: unknown,
): Record<string, number | null> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new BadUserInputError('features must be a JSON object of feature name → number', {
      expected: specs.map((f) => f.name),
    });
  }
  const byName = new Map(specs.map((f) => [f.name, f]));
  const problems: FeatureProblem[] = [];
  const values: Record<string, number | null> = {};
  for (const spec of specs) values[spec.name] = null;
  for (const [name, value] of Object.entries(input as Record<string, unknown>)) {
    const spec = byName.get(name);
    if (!spec) {
      problems.push({ feature: name, reason: 'UNKNOWN_FEATURE' });
      continue;
    }
    if (value === null || value === undefined) continue;
    if (typeof value !== 'number') {
      problems.push({ feature: name, reason: 'NOT_A_NUMBER', value });
    } else if (!Number.isFinite(value)) {
      problems.push({ feature: name, reason: 'NOT_FINITE', value: String(value) });
    } else if ((spec.kind === 'binary' || spec.kind === 'count') && !Number.isInteger(value)) {
      problems.push({ feature: name, reason: 'NOT_AN_INTEGER', value });
    } else if (value < spec.range[0] || value > spec.range[1]) {
      problems.push({ feature: name, reason: 'OUT_OF_RANGE', value, range: spec.range, unit: spec.unit });
    } else {
      values[name] = value;
    }
  }
  if (problems.length > 0) {
    const summary = problems.map((p) => `${p.feature}: ${p.reason}`).join('; ');
    throw new BadUserInputError(`invalid features: ${summary}`, {
      problems,
      expected: specs.map((f) => f.name),
    });
  }
  return values;
}

/** Why the patient is outside the model's population (age range, sex), or null when inside or unknown. */
export function outsidePopulation(
  model: LoadedModel,
  resources: readonly Resource[],
  now: Date,
): string | null {
  const population = populationOf(model.artifact);
  if (!population) return null;
  const patient = resources.find((r): r is Patient => r.resourceType === 'Patient');
  const age = patient?.birthDate ? ageInYears(patient.birthDate, now) : null;
  if (population.age && age !== null && (age < population.age[0] || age > population.age[1])) {
    return `age ${age} is outside ${population.age[0]}–${population.age[1]}: ${population.description}`;
  }
  if (population.excludedBy) {
    const [excluded] = extractFeatures(
      [exclusionFeature(population.excludedBy.snomed)],
      resources,
      now,
    ).sources.filter((source) => source.value === 1);
    if (excluded) return `${population.excludedBy.description} (SNOMED ${excluded.code})`;
  }
  if (
    population.sex &&
    (patient?.gender === 'male' || patient?.gender === 'female') &&
    patient.gender !== population.sex
  ) {
    return `${patient.gender}: the model was trained on ${population.description}`;
  }
  return null;
}

/** A pseudo-feature that reads a population's exclusion Conditions from the chart (and selects them). */
export function exclusionFeature(snomed: readonly string[]): ArtifactFeature {
  return {
    name: 'population exclusion',
    description: 'an active Condition that puts the patient outside the population',
    unit: '1',
    kind: 'binary',
    range: [0, 1],
    chart: { kind: 'condition', snomed },
  };
}
