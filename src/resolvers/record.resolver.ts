import { GraphQLJSON } from 'graphql-scalars';
import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { checksumAddress } from '../auth/address.js';
import type { RecordEntity, RecordVersionEntity } from '../storage/entities/index.js';
import { Anchor, AnchorStatus, HealthRecord, RecordProof, RecordVersion } from '../schema/record.type.js';
import type { RequestContext } from './context.js';

/** The GraphQL root keeps the entity so field resolvers can load content lazily. */
type HealthRecordRoot = HealthRecord & { entity: RecordEntity };

function toHealthRecord(entity: RecordEntity): HealthRecordRoot {
  return {
    entity,
    id: entity.id,
    patient: checksumAddress(entity.patient),
    resourceType: entity.resourceType,
    version: entity.currentVersion,
    author: checksumAddress(entity.author),
    createdAt: entity.createdAt,
    updatedAt: entity.updatedAt,
  };
}

function toAnchor(row: RecordVersionEntity): Anchor {
  return {
    status: row.anchorTx ? AnchorStatus.ANCHORED : AnchorStatus.PENDING,
    txHash: row.anchorTx,
    blockNumber: row.anchorBlock,
  };
}

@Resolver(() => HealthRecord)
export class RecordResolver {
  @Mutation(() => HealthRecord, { description: 'Validates, encrypts and stores one FHIR R4 resource' })
  async addRecord(
    @Arg('patient', () => String) patient: string,
    @Arg('resource', () => GraphQLJSON) resource: unknown,
    @Ctx() ctx: RequestContext,
  ): Promise<HealthRecordRoot> {
    return toHealthRecord(await ctx.services.records.addRecord(await ctx.caller(), patient, resource));
  }

  @Query(() => HealthRecord, { nullable: true })
  async record(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<HealthRecordRoot> {
    return toHealthRecord(await ctx.services.records.getRecord(await ctx.caller(), id));
  }

  @Query(() => RecordProof, { description: 'Checks CID ↔ content ↔ chain event for the current version' })
  async verifyRecord(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<RecordProof> {
    return ctx.services.records.verifyRecord(await ctx.caller(), id);
  }

  @FieldResolver(() => GraphQLJSON)
  resource(@Root() root: HealthRecordRoot, @Ctx() ctx: RequestContext): Promise<unknown> {
    return ctx.services.records.readResource(root.entity);
  }

  @FieldResolver(() => String)
  async cid(@Root() root: HealthRecordRoot, @Ctx() ctx: RequestContext): Promise<string> {
    return (await this.current(root, ctx)).cid;
  }

  @FieldResolver(() => Anchor)
  async anchor(@Root() root: HealthRecordRoot, @Ctx() ctx: RequestContext): Promise<Anchor> {
    return toAnchor(await this.current(root, ctx));
  }

  @FieldResolver(() => [RecordVersion])
  async history(@Root() root: HealthRecordRoot, @Ctx() ctx: RequestContext): Promise<RecordVersion[]> {
    const rows = await ctx.services.records.versions(root.id);
    return rows.map((row) => ({
      version: row.version,
      cid: row.cid,
      author: checksumAddress(row.author),
      createdAt: row.createdAt,
      anchor: toAnchor(row),
    }));
  }

  private current(root: HealthRecordRoot, ctx: RequestContext): Promise<RecordVersionEntity> {
    return ctx.once(`version:${root.id}:${root.version}`, () =>
      ctx.services.records.currentVersion(root.entity),
    );
  }
}
