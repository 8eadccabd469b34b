import { GraphQLJSON } from 'graphql-scalars';
import { Field, Float, ID, Int, ObjectType } from 'type-graphql';

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
  description: 'A model card: what was trained on what, how well it did, and where it is anchored',
})
export class Model {
  @Field(() => ID, { description: 'e.g. wdbc-svm' })
  id!: string;

  @Field()
  dataset!: string;

  @Field()
  datasetTitle!: string;

  @Field({ description: 'sha256 of the training CSV' })
  datasetSha256!: string;

  @Field({ description: 'What label 1 (the positive class) means' })
  positiveLabel!: string;

  @Field()
  algorithm!: string;

  @Field()
  algorithmTitle!: string;

  @Field({ description: 'Library or implementation that fitted it' })
  engine!: string;

  @Field(() => GraphQLJSON)
  hyperParameters!: Record<string, unknown>;

  @Field(() => [ModelFeature])
  features!: ModelFeature[];

  @Field(() => ModelMetrics)
  metrics!: ModelMetrics;

  @Field(() => Evaluation)
  evaluation!: Evaluation;

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

  @Field(() => Float, { description: 'P(label = 1)' })
  probability!: number;

  @Field()
  cid!: string;

  @Field()
  metricsHash!: string;

  @Field()
  anchorTx!: string;

  @Field(() => Int)
  anchorBlock!: number;

  @Field(() => ModelMetrics)
  metrics!: ModelMetrics;

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
