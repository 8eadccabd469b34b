import { GraphQLJSON } from 'graphql-scalars';
import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';

export enum AnchorStatus {
  PENDING = 'PENDING',
  ANCHORED = 'ANCHORED',
}
registerEnumType(AnchorStatus, { name: 'AnchorStatus' });

@ObjectType({ description: 'Where a record version is anchored on chain' })
export class Anchor {
  @Field(() => AnchorStatus)
  status!: AnchorStatus;

  @Field(() => String, { nullable: true })
  txHash!: string | null;

  @Field(() => Int, { nullable: true })
  blockNumber!: number | null;
}

@ObjectType()
export class RecordVersion {
  @Field(() => Int)
  version!: number;

  @Field({ description: 'IPFS CID of the encrypted envelope' })
  cid!: string;

  @Field()
  author!: string;

  @Field()
  createdAt!: Date;

  @Field(() => Anchor)
  anchor!: Anchor;

  @Field({ description: "This node checked the author's EIP-712 signature over this version" })
  authorVerified!: boolean;
}

@ObjectType({ description: 'One FHIR R4 resource in a patient chart, stored encrypted on IPFS' })
export class HealthRecord {
  @Field(() => ID)
  id!: string;

  @Field({ description: 'Address of the patient whose chart this is' })
  patient!: string;

  @Field()
  resourceType!: string;

  @Field(() => Int)
  version!: number;

  @Field({ description: 'Address of the account that wrote it' })
  author!: string;

  @Field()
  createdAt!: Date;

  @Field()
  updatedAt!: Date;

  // Resolved per field (see record.resolver.ts) so metadata-only queries skip IPFS and decryption.
  @Field(() => GraphQLJSON, { description: 'The decrypted FHIR resource, exactly as written' })
  resource?: unknown;

  @Field({ description: 'IPFS CID of the current version' })
  cid?: string;

  @Field(() => Anchor)
  anchor?: Anchor;

  @Field({
    description:
      "This node checked the author's EIP-712 signature over the current version; false for unsigned writes",
  })
  authorVerified?: boolean;

  @Field(() => [RecordVersion], { description: 'Every version, newest first' })
  history?: RecordVersion[];

  @Field(() => Date, { description: 'Clinical time of the current version (else its write time)' })
  effectiveAt!: Date;

  @Field(() => String, { nullable: true, description: 'fullUrl of the Bundle entry it was imported from' })
  fullUrl!: string | null;

  @Field(() => [ResolvedReference], {
    description: "References in the resource, resolved to this chart's records",
  })
  references?: ResolvedReference[];
}

@ObjectType({ description: 'Whether stored content, its CID and the chain anchor agree' })
export class RecordProof {
  @Field(() => ID)
  recordId!: string;

  @Field(() => Int)
  version!: number;

  @Field()
  cid!: string;

  @Field({ description: 'The bytes fetched from IPFS hash to the CID' })
  contentMatchesCid!: boolean;

  @Field({ description: 'The envelope authenticates (Poly1305) and decrypts' })
  decrypts!: boolean;

  @Field(() => String, { nullable: true })
  anchorTx!: string | null;

  @Field(() => Int, { nullable: true })
  anchorBlock!: number | null;

  @Field(() => String, { nullable: true, description: 'The CID the chain event carries' })
  chainCid!: string | null;

  @Field({ description: 'The chain event names this record, version, patient and CID' })
  anchorMatches!: boolean;

  @Field({ description: 'All of the above hold' })
  verified!: boolean;
}

export enum ImportOutcome {
  CREATED = 'CREATED',
  UPDATED = 'UPDATED',
  UNCHANGED = 'UNCHANGED',
  REJECTED = 'REJECTED',
}
registerEnumType(ImportOutcome, { name: 'ImportOutcome' });

@ObjectType({ description: 'What happened to one Bundle entry' })
export class ImportEntry {
  @Field(() => Int, { description: 'Position of the entry in Bundle.entry' })
  index!: number;

  @Field(() => String, { nullable: true })
  fullUrl!: string | null;

  @Field(() => String, { nullable: true })
  resourceType!: string | null;

  @Field(() => ID, {
    nullable: true,
    description: 'The stored record (also for UNCHANGED); null when rejected',
  })
  recordId!: string | null;

  @Field(() => Int, { nullable: true, description: 'The record version the entry is now' })
  version!: number | null;

  @Field(() => ImportOutcome)
  outcome!: ImportOutcome;

  @Field(() => String, {
    nullable: true,
    description: 'Stable reason code when rejected, e.g. INVALID_RESOURCE',
  })
  code!: string | null;

  @Field(() => String, { nullable: true, description: 'Why the entry was rejected' })
  reason!: string | null;
}

@ObjectType({
  description: 'Outcome of importBundle; all or nothing: `written` is false if any entry was rejected',
})
export class ImportResult {
  @Field(() => Int)
  created!: number;

  @Field(() => Int)
  updated!: number;

  @Field(() => Int)
  unchanged!: number;

  @Field(() => Int)
  rejected!: number;

  @Field({ description: 'Whether the Bundle was stored; false means nothing of it was written' })
  written!: boolean;

  @Field(() => [ImportEntry], { description: 'One per Bundle entry, in order: entry → record id' })
  entries!: ImportEntry[];
}

@ObjectType({ description: 'A reference in a resource, as written, and the stored record it denotes' })
export class ResolvedReference {
  @Field()
  reference!: string;

  @Field(() => ID, { nullable: true, description: 'Null when it points outside the chart (kept as written)' })
  recordId!: string | null;
}
