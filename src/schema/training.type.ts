import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Model } from './model.type.js';

export enum TrainingStateName {
  QUEUED = 'QUEUED',
  RUNNING = 'RUNNING',
  SUCCEEDED = 'SUCCEEDED',
  FAILED = 'FAILED',
}
registerEnumType(TrainingStateName, {
  name: 'TrainingState',
  description: 'QUEUED → RUNNING → SUCCEEDED or FAILED; a job interrupted by a restart runs again',
});

@ObjectType({ description: 'A training run: cross-validation, final fit, artifact on IPFS, anchor, served' })
export class TrainingJob {
  @Field(() => ID)
  id!: string;

  @Field()
  dataset!: string;

  @Field()
  algorithm!: string;

  @Field(() => TrainingStateName)
  state!: TrainingStateName;

  @Field(() => Int, { description: 'Outer cross-validation folds finished' })
  foldsDone!: number;

  @Field(() => Int, { nullable: true, description: 'Outer folds in all; known once the first one finishes' })
  foldsTotal!: number | null;

  @Field({ description: 'Address of the account that asked for it' })
  requestedBy!: string;

  @Field()
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  startedAt!: Date | null;

  @Field(() => Date, { nullable: true })
  finishedAt!: Date | null;

  @Field(() => String, { nullable: true, description: 'Why it FAILED' })
  error!: string | null;

  @Field(() => Model, { nullable: true, description: 'The model it serves, once SUCCEEDED' })
  model!: Model | null;
}
