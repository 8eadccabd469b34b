import { Field, InputType, ObjectType, registerEnumType } from 'type-graphql';

export enum VerificationStatusName {
  VERIFIED = 'VERIFIED',
  UNVERIFIED = 'UNVERIFIED',
  EXPIRED = 'EXPIRED',
  REVOKED = 'REVOKED',
  NOT_REQUIRED = 'NOT_REQUIRED',
}
registerEnumType(VerificationStatusName, {
  name: 'VerificationStatus',
  description:
    'VERIFIED: a valid attestation (or admission) is on chain; UNVERIFIED: the role is only self-declared; NOT_REQUIRED: patients and node admins',
});

@ObjectType({
  description: 'Who vouches for an account: the attestation on chain, as this node last synced it',
})
export class Verification {
  @Field(() => VerificationStatusName)
  status!: VerificationStatusName;

  @Field(() => String, { nullable: true, description: 'The attested role, or ORGANIZATION when admitted' })
  role!: string | null;

  @Field(() => String, { nullable: true, description: 'EIP-55 address of the attesting organization' })
  organization!: string | null;

  @Field(() => String, {
    nullable: true,
    description: "The attesting organization's display name, if registered",
  })
  organizationName!: string | null;

  @Field(() => String, { nullable: true, description: 'FHIR system|value, e.g. an NPI' })
  identifier!: string | null;

  @Field(() => Date, { nullable: true })
  expiresAt!: Date | null;

  @Field(() => String, { nullable: true, description: 'The transaction that attested (or admitted)' })
  txHash!: string | null;
}

@InputType({
  description: 'What an admitted organization attests; sign the payload from attestationTypedData',
})
export class AttestationInput {
  @Field({ description: 'Address of the practitioner or analyst' })
  subject!: string;

  @Field({ description: 'PRACTITIONER or ANALYST' })
  role!: string;

  @Field({ description: 'Address of the admitted organization that signs' })
  organization!: string;

  @Field({ description: 'FHIR system|value, e.g. http://hl7.org/fhir/sid/us-npi|1234567893' })
  identifier!: string;

  @Field({ description: 'When the attestation ends (whole seconds are signed)' })
  expiresAt!: Date;
}

@ObjectType({ description: 'An organization the network operator admitted or withdrew' })
export class OrganizationAdmission {
  @Field()
  organization!: string;

  @Field()
  admitted!: boolean;

  @Field()
  txHash!: string;
}
