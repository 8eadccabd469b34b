import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';

export enum GrantKindName {
  CONSENT = 'CONSENT',
  BREAK_GLASS = 'BREAK_GLASS',
}
registerEnumType(GrantKindName, {
  name: 'GrantKind',
  description: 'CONSENT is signed by the patient on chain; BREAK_GLASS is a one-hour emergency read',
});

@InputType({ description: 'What the patient consents to; sign the payload from grantTypedData' })
export class GrantInput {
  @Field({ description: 'Address of the patient whose chart it is' })
  patient!: string;

  @Field({ description: 'Address of the registered account that gets access' })
  grantee!: string;

  @Field(() => [String], {
    description:
      'SMART App Launch v2 scopes, e.g. patient/Observation.rs, patient/*.cruds; predict; research (to an organization)',
  })
  scopes!: string[];

  @Field({ description: 'When access ends (whole seconds are signed)' })
  expiresAt!: Date;
}

@ObjectType({ description: 'Access to a patient chart' })
export class Grant {
  @Field(() => ID, { description: 'Chain grant id for CONSENT; bg-<chain break-glass id> for BREAK_GLASS' })
  id!: string;

  @Field(() => GrantKindName)
  kind!: GrantKindName;

  @Field()
  patient!: string;

  @Field()
  grantee!: string;

  @Field(() => [String])
  scopes!: string[];

  @Field()
  expiresAt!: Date;

  @Field(() => Date, { nullable: true })
  revokedAt!: Date | null;

  @Field({ description: 'Not revoked and not expired now' })
  active!: boolean;

  @Field(() => String, { nullable: true, description: 'Break-glass reason' })
  reason!: string | null;

  @Field(() => String, { nullable: true })
  createdTx!: string | null;

  @Field(() => Int, { nullable: true })
  createdBlock!: number | null;

  @Field(() => String, { nullable: true })
  revokedTx!: string | null;

  @Field(() => Int, {
    nullable: true,
    description: 'Records given a new version under a fresh key by this revocation (reseal: true)',
  })
  resealedRecords?: number | null;
}

@ObjectType({ description: "A patient's signed break-glass policy" })
export class BreakGlassPolicy {
  @Field()
  patient!: string;

  @Field({ description: 'True: break-glass is refused for this chart on every node' })
  refuse!: boolean;

  @Field(() => String, { nullable: true, description: 'The transaction that set it; null when never set' })
  txHash!: string | null;
}
