import { Field, Float, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';

export enum CohortDimensionName {
  AGE_BAND = 'AGE_BAND',
  SEX = 'SEX',
  MONTH = 'MONTH',
}
registerEnumType(CohortDimensionName, {
  name: 'CohortDimension',
  description: 'AGE_BAND (as of asOf), SEX (Patient.gender), MONTH (UTC month of the first onset)',
});

@InputType({ description: 'A cohort statistics query: which conditions, grouped how' })
export class CohortQueryInput {
  @Field(() => String, {
    nullable: true,
    description: "The analyst's own organization (default); any other is refused",
  })
  organization?: string | null;

  @Field(() => [String], {
    nullable: true,
    description: 'Condition codes (system|code, up to 20) to count; none: count the patients',
  })
  conditions?: string[] | null;

  @Field(() => [CohortDimensionName], { nullable: true, description: 'Dimensions besides the condition' })
  groupBy?: CohortDimensionName[] | null;

  @Field(() => Int, { nullable: true, description: 'Width of an age band in years (a divisor of 90); 10' })
  ageBandYears?: number | null;

  @Field(() => Date, { nullable: true, description: 'First month of MONTH (required with it)' })
  from?: Date | null;

  @Field(() => Date, { nullable: true, description: 'Last month of MONTH (required with it)' })
  to?: Date | null;

  @Field(() => Date, { nullable: true, description: 'Ages and conditions as of this time; now' })
  asOf?: Date | null;
}

@ObjectType({ description: 'One cell of a cohort table; every figure null when suppressed' })
export class CohortCell {
  @Field(() => String, { nullable: true, description: 'system|code, when conditions were named' })
  condition!: string | null;

  @Field(() => String, { nullable: true, description: 'e.g. 40-49, 90+, unknown; with AGE_BAND' })
  ageBand!: string | null;

  @Field(() => String, { nullable: true, description: 'female, male, other or unknown; with SEX' })
  sex!: string | null;

  @Field(() => String, { nullable: true, description: 'YYYY-MM; with MONTH' })
  month!: string | null;

  @Field(() => Int, {
    nullable: true,
    description: 'Consenting patients in the age band and sex (denominator)',
  })
  patients!: number | null;

  @Field(() => Int, {
    nullable: true,
    description: 'Of them, those with the condition (first onset in the month, with MONTH)',
  })
  count!: number | null;

  @Field(() => Float, { nullable: true, description: 'count / patients (without conditions: / cohort size)' })
  rate!: number | null;

  @Field({ description: 'true when the count or the denominator is below minCellSize' })
  suppressed!: boolean;
}

@ObjectType({ description: 'k-anonymous aggregates over patients who granted research to the organization' })
export class CohortStatistics {
  @Field({ description: 'The organization whose research cohort was counted' })
  organization!: string;

  @Field(() => Date)
  asOf!: Date;

  @Field(() => Int, { description: 'k: no released figure counts fewer patients' })
  minCellSize!: number;

  @Field(() => Float, { nullable: true, description: 'Laplace noise ε per released count; null: exact' })
  epsilon!: number | null;

  @Field(() => Int, { nullable: true, description: 'Consenting patients counted; null below minCellSize' })
  cohortSize!: number | null;

  @Field(() => Int)
  suppressedCells!: number;

  @Field(() => [CohortCell])
  cells!: CohortCell[];
}

@InputType({ description: "A model to train on the research cohort's charts" })
export class CohortTrainingInput {
  @Field(() => String, { nullable: true, description: "The analyst's own organization (default)" })
  organization?: string | null;

  @Field({ description: 'system|code of the Condition to predict (label 1: the chart holds one)' })
  condition!: string;

  @Field({ description: 'Algorithm id (logreg, svm, gnb, knn, cart, ...)' })
  algorithm!: string;
}
