import { GraphQLJSON } from 'graphql-scalars';
import { Field, Float, ID, Int, ObjectType, registerEnumType } from 'type-graphql';

@ObjectType({ description: 'Mean and standard deviation over the cross-validation test folds' })
export class MetricSpread {
  @Field(() => Float)
  mean!: number;

  @Field(() => Float)
  sd!: number;
}

@ObjectType({
  description: 'Cross-validated metrics (repeated stratified k-fold, tuning nested in the folds)',
})
export class ModelMetrics {
  @Field(() => MetricSpread)
  accuracy!: MetricSpread;

  @Field(() => MetricSpread, { description: 'Area under the ROC curve' })
  auc!: MetricSpread;

  @Field(() => MetricSpread, { description: 'True-positive rate' })
  sensitivity!: MetricSpread;

  @Field(() => MetricSpread, { description: 'True-negative rate' })
  specificity!: MetricSpread;

  @Field(() => MetricSpread, { description: 'Mean squared error of the probability (lower is better)' })
  brier!: MetricSpread;
}

@ObjectType({ description: 'How the metrics were measured' })
export class Evaluation {
  @Field()
  method!: string;

  @Field(() => Int)
  folds!: number;

  @Field(() => Int)
  repeats!: number;

  @Field(() => Int)
  innerFolds!: number;

  @Field(() => Int)
  seed!: number;
}

@ObjectType({ description: 'One model input' })
export class ModelFeature {
  @Field()
  name!: string;

  @Field()
  description!: string;

  @Field({ description: 'UCUM unit code' })
  unit!: string;

  @Field({ description: 'continuous, count, ordinal or binary' })
  kind!: string;

  @Field(() => Float, { description: 'Smallest plausible value accepted' })
  min!: number;

  @Field(() => Float, { description: 'Largest plausible value accepted' })
  max!: number;

  @Field(() => [String], {
    description: 'LOINC codes it is read from in a chart (empty when not chart-derived)',
  })
  loinc!: string[];

  @Field(() => String, {
    nullable: true,
    description: 'observation, age, sex or condition; null when not in charts',
  })
  chartSource!: string | null;
}

@ObjectType({
  description: 'Predicted vs observed rate in one decile of predicted risk, on the CV test folds',
})
export class ReliabilityBin {
  @Field(() => Int, { description: '1 = the lowest tenth of predicted risk' })
  decile!: number;

  @Field(() => Int, { description: 'Test predictions in the decile (pooled over folds and repeats)' })
  n!: number;

  @Field(() => Float)
  meanPredicted!: number;

  @Field(() => Float)
  observedRate!: number;
}

@ObjectType({ description: "How the model's probabilities are calibrated and how well, on the CV folds" })
export class ModelCalibration {
  @Field()
  method!: string;

  @Field(() => Float, {
    nullable: true,
    description: 'Brier score of the pooled CV test predictions; null for a published equation',
  })
  brier!: number | null;

  @Field(() => [ReliabilityBin], { description: 'Empty for a published equation (no outcome data here)' })
  reliability!: ReliabilityBin[];
}

@ObjectType({
  description: 'Who the training rows (or an equation) describe; outside it the model does not apply',
})
export class ModelPopulation {
  @Field()
  description!: string;

  @Field(() => Int, { nullable: true })
  minAge!: number | null;

  @Field(() => Int, { nullable: true })
  maxAge!: number | null;

  @Field(() => String, { nullable: true, description: 'female or male when every row is of one sex' })
  sex!: string | null;
}

@ObjectType({ description: 'A chart-native variant beside the full-feature model, on the same CV folds' })
export class ChartNativeComparison {
  @Field({ description: 'The full-feature model of the same dataset' })
  fullFeatureModel!: string;

  @Field(() => [String], { description: 'Features the chart-native variant uses' })
  features!: string[];

  @Field(() => ModelMetrics)
  fullMetrics!: ModelMetrics;

  @Field(() => Float, { description: 'Chart-native minus full-feature mean accuracy, percentage points' })
  accuracyGapPoints!: number;

  @Field(() => Float)
  aucGap!: number;
}

@ObjectType({ description: "A model trained on a research cohort's charts at this node" })
export class ModelCohort {
  @Field({ description: 'The organization whose research grants the charts came through' })
  organization!: string;

  @Field({ description: 'system|code of the Condition whose presence is the label' })
  condition!: string;

  @Field(() => Int, { description: 'Consenting patients whose charts became rows' })
  size!: number;

  @Field(() => Int)
  positives!: number;

  @Field({ description: 'Always false: the rows were built and used inside the node and kept nowhere' })
  rowsLeftNode!: boolean;

  @Field()
  requestedBy!: string;
}

@ObjectType({
  description: 'A model card: what was trained on what, how well it did, and where it is anchored',
})
export class Model {
  @Field(() => ID, { description: 'e.g. wdbc-svm' })
  id!: string;

  @Field()
  dataset!: string;

  @Field()
  datasetTitle!: string;

  @Field(() => String, { nullable: true, description: 'sha256 of the training CSV; null for an equation' })
  datasetSha256!: string | null;

  @Field({ description: 'trained (cross-validated on a dataset) or equation (published coefficients)' })
  kind!: string;

  @Field(() => String, { nullable: true, description: 'For an equation: the publication it implements' })
  reference!: string | null;

  @Field(() => String, { nullable: true, description: 'For an equation: what is published of its accuracy' })
  validation!: string | null;

  @Field(() => GraphQLJSON, { nullable: true, description: 'For an equation: its published coefficients' })
  coefficients!: unknown;

  @Field(() => ModelPopulation)
  population!: ModelPopulation;

  @Field(() => ModelCalibration)
  calibration!: ModelCalibration;

  @Field(() => ChartNativeComparison, {
    nullable: true,
    description:
      'For a chart-native variant (dataset <base>-chart): the full-feature model on the same folds',
  })
  comparison!: ChartNativeComparison | null;

  @Field(() => ModelCohort, {
    nullable: true,
    description: "For a model trained on a research cohort's charts",
  })
  cohort!: ModelCohort | null;

  @Field({ description: 'What label 1 (the positive class) means' })
  positiveLabel!: string;

  @Field()
  algorithm!: string;

  @Field()
  algorithmTitle!: string;

  @Field({ description: 'Library or implementation that fitted it' })
  engine!: string;

  @Field(() => GraphQLJSON, { nullable: true, description: 'null for an equation' })
  hyperParameters!: Record<string, unknown> | null;

  @Field(() => [ModelFeature])
  features!: ModelFeature[];

  @Field(() => ModelMetrics, { nullable: true, description: 'null for an equation: no outcome data here' })
  metrics!: ModelMetrics | null;

  @Field(() => Evaluation, { nullable: true, description: 'null for an equation' })
  evaluation!: Evaluation | null;

  @Field({ description: 'IPFS CID of the model artifact' })
  cid!: string;

  @Field({ description: 'sha256 of the canonical metrics JSON, anchored beside the CID' })
  metricsHash!: string;

  @Field()
  anchorTx!: string;

  @Field(() => Int)
  anchorBlock!: number;

  @Field()
  trainedAt!: Date;
}

@ObjectType()
export class FeatureEffect {
  @Field()
  feature!: string;

  @Field(() => Float, { description: 'Value used, in the model unit' })
  value!: number;

  @Field()
  unit!: string;

  @Field(() => Float, { description: 'Push toward the positive label (> 0) or away from it' })
  effect!: number;
}

@ObjectType()
export class MissingFeature {
  @Field()
  feature!: string;

  @Field({ description: 'NOT_GIVEN, NOT_IN_CHART, NO_CHART_SOURCE or UNIT_NOT_CONVERTIBLE' })
  reason!: string;

  @Field(() => String, { nullable: true })
  detail?: string | null;
}

@ObjectType()
export class ImputedFeature {
  @Field()
  feature!: string;

  @Field(() => Float, { description: 'Training median (or most frequent value) used instead' })
  value!: number;

  @Field()
  unit!: string;
}

@ObjectType({ description: 'A model answer with its provenance' })
export class Prediction {
  @Field()
  modelId!: string;

  @Field(() => Int, { description: '1 = the positive class of the dataset' })
  label!: number;

  @Field()
  labelName!: string;

  @Field(() => Float, {
    nullable: true,
    description: 'P(label = 1); null for an equation that gives a value (eGFR)',
  })
  probability!: number | null;

  @Field(() => Float, { nullable: true, description: 'Equations: the value (10-year risk in %, eGFR)' })
  value!: number | null;

  @Field(() => String, { nullable: true, description: 'UCUM unit of value' })
  unit!: string | null;

  @Field(() => String, { nullable: true, description: 'Equations: risk band, or KDIGO G category' })
  category!: string | null;

  @Field()
  cid!: string;

  @Field()
  metricsHash!: string;

  @Field()
  anchorTx!: string;

  @Field(() => Int)
  anchorBlock!: number;

  @Field(() => ModelMetrics, { nullable: true, description: 'null for an equation' })
  metrics!: ModelMetrics | null;

  @Field(() => [FeatureEffect], { description: 'Features that pushed the prediction most, strongest first' })
  topFeatures!: FeatureEffect[];

  @Field()
  contributionMethod!: string;

  @Field(() => [MissingFeature])
  missing!: MissingFeature[];

  @Field(() => [ImputedFeature])
  imputed!: ImputedFeature[];

  @Field(() => GraphQLJSON, {
    description: 'For chart predictions: the resource and original unit of each value',
  })
  sources!: unknown;
}

export enum ModelAnswerStatusName {
  ANSWERED = 'ANSWERED',
  MISSING_FEATURES = 'MISSING_FEATURES',
  DOES_NOT_APPLY = 'DOES_NOT_APPLY',
  REFUSED = 'REFUSED',
}
registerEnumType(ModelAnswerStatusName, {
  name: 'ModelAnswerStatus',
  description:
    'ANSWERED; MISSING_FEATURES (the chart lacks too many inputs: see missing); DOES_NOT_APPLY (outside ' +
    "the model's population, e.g. a child for an adult model); REFUSED (a chart value the model does not accept)",
});

@ObjectType({ description: "One served model's answer for a patient's chart" })
export class ModelAnswer {
  @Field()
  modelId!: string;

  @Field(() => ModelAnswerStatusName)
  status!: ModelAnswerStatusName;

  @Field(() => Prediction, { nullable: true, description: 'When ANSWERED' })
  prediction!: Prediction | null;

  @Field(() => [MissingFeature], {
    description: 'Inputs the chart did not supply: imputed when ANSWERED, the reason when MISSING_FEATURES',
  })
  missing!: MissingFeature[];

  @Field(() => String, { nullable: true, description: 'Why it did not answer' })
  reason!: string | null;
}
