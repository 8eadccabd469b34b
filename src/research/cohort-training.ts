import { createHash } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.js';
import type { Caller } from '../auth/caller.js';
import type { ResearchAccess } from '../auth/research-access.js';
import { BadUserInputError } from '../errors.js';
import { artifactFeatures } from '../ml/artifact.js';
import { extractFeatures, selectChartResources } from '../ml/chart-features.js';
import { DATASETS, type DatasetSpec } from '../ml/datasets.js';
import { SNOMED_SYSTEM, isRoutineChartFeature, type FeatureSpec } from '../ml/features.js';
import { COHORT_DATASET_PREFIX, type LoadedModel } from '../ml/model-service.js';
import type { InMemoryRows } from '../ml/training.js';
import type { DecryptionBudget } from '../records/decryption-budget.js';
import type { ChartRead } from '../records/record-service.js';
import type { ResearchStore } from '../storage/research-store.js';
import { validateCohortQuery } from './cohort-statistics.js';
import { auditResearchUse } from './research-audit.js';

export interface CohortTrainingOptions {
  access: ResearchAccess;
  research: Pick<ResearchStore, 'conditionOnsets'>;
  openChart: (patient: string, budget?: DecryptionBudget) => ChartRead;
  train: (requestedBy: string, rows: InMemoryRows, algorithm: string) => Promise<LoadedModel>;
  audit: AuditLog;
  /** k: the cohort, its positives and its negatives must each count at least this many. */
  minCellSize: number;
  now?: () => Date;
}

/** Algorithms whose fitted state is coefficients or per-class moments, never a training row. */
const AGGREGATE_ALGORITHMS: ReadonlySet<string> = new Set(['logreg', 'gnb']);

/** A feature is kept when at least this share of the cohort's charts carries it (else it is noise). */
const MIN_PRESENT_SHARE = 0.5;

/**
 * Trains a model on the charts of a research cohort: features from each chart (the routine-chart
 * features the served chart-native models read), label = the chart holds a Condition with the code.
 * The rows exist only in this process: built here, handed to the training queue, never stored; the
 * model card records the cohort's size and that no row left the node. One audit entry per chart used.
 */
export class CohortTraining {
  constructor(private readonly options: CohortTrainingOptions) {}

  async train(
    caller: Caller,
    input: { condition: string; algorithm: string; organization?: string | null },
    budget?: DecryptionBudget,
  ): Promise<LoadedModel> {
    const now = this.options.now?.() ?? new Date();
    const cohort = await this.options.access.cohortFor(caller, input.organization);
    if (!AGGREGATE_ALGORITHMS.has(input.algorithm)) {
      // SVMs keep support vectors, k-NN the rows, trees small leaves: all of them carry rows out.
      throw new BadUserInputError(
        `a cohort model must keep no training row: use ${[...AGGREGATE_ALGORITHMS].join(' or ')}`,
        { field: 'algorithm', reason: 'ALGORITHM_KEEPS_ROWS' },
      );
    }
    const [condition] = validateCohortQuery({ conditions: [input.condition] }, now).conditions;
    if (!condition) throw new BadUserInputError('name the condition to predict', { field: 'condition' });
    const k = this.options.minCellSize;
    const patients = cohort.members.map((m) => m.patient);
    const onsets = await this.options.research.conditionOnsets(patients, [condition], now);
    const positive = new Set(onsets.map((o) => o.patient));
    const y = patients.map((p) => (positive.has(p) ? 1 : 0));
    const positives = y.filter((v) => v === 1).length;
    if (patients.length < k || positives < k || patients.length - positives < k) {
      // Without k of each, the model (and its card's counts) would describe a handful of people.
      throw new BadUserInputError(
        `training needs at least ${k} consenting patients with the condition and ${k} without`,
        { field: 'condition', reason: 'COHORT_TOO_SMALL' },
      );
    }
    const candidates = artifactFeatures(candidateFeatures(condition));
    const values: Record<string, number | null>[] = [];
    for (const patient of patients) {
      const resources = await selectChartResources(candidates, now, this.options.openChart(patient, budget));
      values.push(extractFeatures(candidates, resources, now).values);
    }
    const kept = candidates.filter(
      (f) => values.filter((v) => v[f.name] !== null).length >= MIN_PRESENT_SHARE * patients.length,
    );
    if (kept.length === 0) {
      throw new BadUserInputError('the cohort charts carry none of the routine chart features', {
        field: 'condition',
        reason: 'NO_FEATURES',
      });
    }
    const X = values.map((v) => kept.map((f) => v[f.name] ?? NaN));
    const id = `${COHORT_DATASET_PREFIX}${createHash('sha256')
      .update(`${cohort.organization}|${condition}`)
      .digest('hex')
      .slice(0, 12)}`;
    const spec: DatasetSpec = {
      id,
      title: `Research cohort of ${cohort.organization}: ${condition}`,
      file: '(none: rows built from consenting charts inside the node, never stored)',
      sha256: createHash('sha256').update(JSON.stringify({ X, y })).digest('hex'),
      positive: condition,
      features: candidateFeatures(condition).filter((f) => kept.some((k) => k.name === f.name)),
      maxMissingFraction: 0.5,
      population: { description: `patients who granted research to ${cohort.organization}` },
    };
    await auditResearchUse(this.options.audit, caller, cohort, {
      purpose: 'trainModel',
      what: 'model training',
    });
    return this.options.train(
      caller.address,
      {
        spec,
        X,
        y,
        sha256: spec.sha256,
        cohort: {
          organization: cohort.organization,
          condition,
          size: patients.length,
          positives,
          rowsLeftNode: false,
          requestedBy: caller.address,
        },
      },
      input.algorithm,
    );
  }
}

/** The routine-chart features of the served datasets, once each, leaving out the label's own code. */
function candidateFeatures(condition: string): FeatureSpec[] {
  const [system, code] = [
    condition.slice(0, condition.indexOf('|')),
    condition.slice(condition.indexOf('|') + 1),
  ];
  const seen = new Set<string>();
  const features: FeatureSpec[] = [];
  for (const feature of DATASETS.flatMap((d) => d.features.filter(isRoutineChartFeature))) {
    const source = feature.chart!;
    if (source.kind === 'condition' && system === SNOMED_SYSTEM && source.snomed.includes(code)) continue;
    const key = JSON.stringify(source);
    if (seen.has(key) || features.some((f) => f.name === feature.name)) continue;
    seen.add(key);
    features.push(feature);
  }
  return features;
}
