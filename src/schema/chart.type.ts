import { Field, Float, ID, Int, ObjectType } from 'type-graphql';
import { PageInfo } from './page-info.type.js';
import { HealthRecord } from './record.type.js';

@ObjectType()
export class ResourceTypeCount {
  @Field()
  resourceType!: string;

  @Field(() => Int)
  count!: number;
}

@ObjectType()
export class VitalSignComponent {
  @Field({ description: 'LOINC code of the component, e.g. 8480-6 (systolic)' })
  code!: string;

  @Field()
  label!: string;

  @Field(() => Float, { nullable: true })
  value!: number | null;

  @Field(() => String, { nullable: true })
  unit!: string | null;
}

@ObjectType({ description: 'The latest value of one vital sign, read from the decrypted Observation' })
export class VitalSign {
  @Field({ description: 'bloodPressure, heartRate, bmi, weight, height, temperature or glucose' })
  kind!: string;

  @Field()
  label!: string;

  @Field()
  system!: string;

  @Field({ description: 'LOINC code of the Observation, e.g. 29463-7 (body weight)' })
  code!: string;

  @Field(() => Float, {
    nullable: true,
    description: 'valueQuantity.value (null for panels such as blood pressure)',
  })
  value!: number | null;

  @Field(() => String, { nullable: true })
  unit!: string | null;

  @Field(() => [VitalSignComponent], { description: 'Systolic and diastolic for blood pressure' })
  components!: VitalSignComponent[];

  @Field()
  effectiveAt!: Date;

  @Field(() => ID)
  recordId!: string;
}

@ObjectType()
export class ChartSummary {
  @Field(() => Int, { description: 'Records in the chart' })
  total!: number;

  @Field(() => [ResourceTypeCount])
  counts!: ResourceTypeCount[];

  @Field(() => [VitalSign], { description: 'Latest value of each vital sign present' })
  vitalSigns!: VitalSign[];

  @Field(() => [HealthRecord], { description: 'Conditions whose clinicalStatus is active, newest first' })
  activeConditions!: HealthRecord[];

  @Field(() => [HealthRecord], {
    description: 'Allergies and intolerances that are active (or have no status)',
  })
  allergies!: HealthRecord[];

  @Field(() => [HealthRecord], { description: 'Active MedicationRequests and MedicationStatements' })
  activeMedications!: HealthRecord[];

  @Field(() => [HealthRecord], { description: 'Completed immunizations, newest first' })
  immunizations!: HealthRecord[];
}

@ObjectType()
export class TimelineEdge {
  @Field({ description: 'Opaque; pass as `after` to continue after this record' })
  cursor!: string;

  @Field(() => HealthRecord)
  node!: HealthRecord;
}

@ObjectType({ description: 'Records newest first by clinical time (Relay connection)' })
export class TimelineConnection {
  @Field(() => [TimelineEdge])
  edges!: TimelineEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int, { description: 'Records matching the filters, over all pages' })
  totalCount?: number;
}

@ObjectType({ description: 'An account that wrote records into the chart' })
export class ChartSource {
  @Field({ description: 'Address of the account' })
  account!: string;

  @Field(() => String, { nullable: true })
  displayName!: string | null;

  @Field(() => String, { nullable: true })
  role!: string | null;

  @Field(() => Int)
  total!: number;

  @Field(() => [ResourceTypeCount])
  counts!: ResourceTypeCount[];
}

@ObjectType({ description: "One patient's unified chart: summary, timeline and where the records came from" })
export class PatientChart {
  @Field({ description: 'Address of the patient' })
  patient!: string;

  @Field(() => ChartSummary)
  summary?: ChartSummary;

  @Field(() => TimelineConnection)
  timeline?: TimelineConnection;

  @Field(() => [ChartSource])
  sources?: ChartSource[];
}
