import { Field, Int, ObjectType, registerEnumType } from 'type-graphql';
import { PageInfo } from './page-info.type.js';

export enum AuditOutcomeName {
  ALLOWED = 'ALLOWED',
  DENIED = 'DENIED',
  EMERGENCY = 'EMERGENCY',
}
registerEnumType(AuditOutcomeName, { name: 'AuditOutcome' });

export enum ProofPosition {
  LEFT = 'LEFT',
  RIGHT = 'RIGHT',
}
registerEnumType(ProofPosition, { name: 'ProofPosition', description: 'Side of the sibling hash' });

@ObjectType()
export class ProofStep {
  @Field()
  hash!: string;

  @Field(() => ProofPosition)
  position!: ProofPosition;
}

@ObjectType({ description: 'A Merkle root over a run of entries, anchored on chain' })
export class AuditBatch {
  @Field({ description: 'Hex SHA-256 root (0x-prefix it to look it up on chain)' })
  root!: string;

  @Field(() => Int)
  firstSeq!: number;

  @Field(() => Int)
  lastSeq!: number;

  @Field()
  anchorTx!: string;

  @Field(() => Int)
  anchorBlock!: number;
}

@ObjectType({
  description:
    'One access to the chart by someone else. hash = SHA-256 of the JSON array ["omnichart-audit-v1", patient, seq, actor, action, resourceType, recordId, outcome, purpose, reason, at, prevHash]',
})
export class AuditEntry {
  @Field(() => Int)
  seq!: number;

  @Field({ description: 'Lower-case address, as hashed' })
  patient!: string;

  @Field({ description: 'Lower-case address, as hashed' })
  actor!: string;

  @Field()
  action!: string;

  @Field(() => String, { nullable: true })
  resourceType!: string | null;

  @Field(() => String, { nullable: true })
  recordId!: string | null;

  @Field(() => AuditOutcomeName)
  outcome!: AuditOutcomeName;

  @Field(() => String, { nullable: true })
  purpose!: string | null;

  @Field(() => String, { nullable: true })
  reason!: string | null;

  @Field({ description: 'ISO 8601 time, exactly as hashed' })
  at!: string;

  @Field()
  prevHash!: string;

  @Field()
  hash!: string;

  @Field(() => AuditBatch, { nullable: true, description: 'Null until the next anchoring round' })
  batch!: AuditBatch | null;

  @Field(() => [ProofStep], { nullable: true, description: 'Inclusion proof of hash in batch.root' })
  proof!: ProofStep[] | null;
}

@ObjectType()
export class AuditEdge {
  @Field()
  cursor!: string;

  @Field(() => AuditEntry)
  node!: AuditEntry;
}

@ObjectType()
export class AuditConnection {
  @Field(() => [AuditEdge])
  edges!: AuditEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int)
  totalCount!: number;

  @Field(() => [AuditBatch], {
    description:
      'Every anchored batch root of the log, oldest first; kept when the cache is rebuilt (the entries are not)',
  })
  batches!: AuditBatch[];
}

export enum AccessAlertKind {
  BREAK_GLASS = 'BREAK_GLASS',
  BREAK_GLASS_ENDED = 'BREAK_GLASS_ENDED',
  DENIED = 'DENIED',
}
registerEnumType(AccessAlertKind, { name: 'AccessAlertKind' });

@ObjectType({ description: 'Someone broke the glass on the chart, or was refused access to it' })
export class AccessAlert {
  @Field(() => AccessAlertKind)
  kind!: AccessAlertKind;

  @Field({ description: 'EIP-55 address of who tried' })
  actor!: string;

  @Field()
  action!: string;

  @Field(() => String, {
    nullable: true,
    description: 'A FHIR resource type, only ever one of the FHIR R4 list',
  })
  resourceType!: string | null;

  @Field({
    description:
      'Why, as a stable code: NO_GRANT, PATIENT_ONLY (denials), PRACTITIONER_STATEMENT (break-glass), BREAK_GLASS_ENDED',
  })
  reasonCode!: string;

  @Field({ description: 'What happened, written by the node (never text a caller chose)' })
  message!: string;

  @Field(() => String, {
    nullable: true,
    description:
      "PRACTITIONER_STATEMENT: the practitioner's own words for breaking the glass, as given (one line, 10–500 characters, no control characters; only at the node it was given at). Otherwise node-written",
  })
  reason!: string | null;

  @Field()
  at!: Date;

  @Field(() => String, {
    nullable: true,
    description: 'Break-glass: the grant id (bg-<n>) the patient can end with endBreakGlass',
  })
  grantId?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'Break-glass: the organization that attested the practitioner',
  })
  organization?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'Break-glass: the transaction that recorded it on chain',
  })
  txHash?: string | null;
}

@ObjectType()
export class AccessAlertEdge {
  @Field()
  cursor!: string;

  @Field(() => AccessAlert)
  node!: AccessAlert;
}

@ObjectType({ description: "The patient's alerts, newest first" })
export class AccessAlertConnection {
  @Field(() => [AccessAlertEdge])
  edges!: AccessAlertEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}
