import type { Resource } from '@medplum/fhirtypes';
import { GraphQLJSON } from 'graphql-scalars';
import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import { checksumAddress } from '../ledger/address.js';
import type { RecordEntity, RecordVersionEntity } from '../storage/entities/index.js';
import {
  Anchor,
  AnchorStatus,
  HealthRecord,
  ImportResult,
  RecordProof,
  RecordVersion,
  ResolvedReference,
} from '../schema/record.type.js';
import type { RequestContext } from './context.js';
import {
  currentVersionLoader,
  envelopeCidLoader,
  historyLoader,
  readAccessLoader,
  referencesLoader,
  resourceLoader,
} from './record-loaders.js';

/** The GraphQL root keeps the entity so field resolvers can load content lazily. */
export type HealthRecordRoot = HealthRecord & {
  entity: RecordEntity;
  /** The caller's right to read this record's content was already checked (record(id), subscriptions). */
  readAuthorized?: boolean;
};

export function toHealthRecord(entity: RecordEntity): HealthRecordRoot {
  return {
    entity,
    id: entity.id,
    patient: checksumAddress(entity.patient),
    resourceType: entity.resourceType,
    version: entity.currentVersion,
    author: checksumAddress(entity.author),
    createdAt: entity.createdAt,
    updatedAt: entity.updatedAt,
    effectiveAt: entity.effectiveAt,
    fullUrl: entity.fullUrl,
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
  @Mutation(() => HealthRecord, {
    description:
      'Validates, encrypts and stores one FHIR R4 resource; the same resource id again is a new version (or no change)',
  })
  async addRecord(
    @Arg('patient', () => String) patient: string,
    @Arg('resource', () => GraphQLJSON) resource: unknown,
    @Arg('recordId', () => ID, {
      nullable: true,
      description: 'The record id recordTypedData answered (needed to sign a new record)',
    })
    recordId: string | null,
    @Arg('authorSignature', () => String, {
      nullable: true,
      description:
        "The caller's EIP-712 signature over recordTypedData's answer; nothing is written if it does not match",
    })
    authorSignature: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<HealthRecordRoot> {
    return toHealthRecord(
      await ctx.services.records.addRecord(await ctx.caller(), patient, resource, {
        recordId: recordId ?? undefined,
        authorSignature: authorSignature ?? undefined,
      }),
    );
  }

  @Query(() => GraphQLJSON, {
    description:
      'The EIP-712 RecordVersion (eth_signTypedData_v4 payload) to sign before addRecord: record id, version, type, content hash',
  })
  async recordTypedData(
    @Arg('patient', () => String) patient: string,
    @Arg('resource', () => GraphQLJSON) resource: unknown,
    @Arg('recordId', () => ID, { nullable: true }) recordId: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<unknown> {
    return ctx.services.records.recordTypedData(await ctx.caller(), patient, resource, recordId);
  }

  @Query(() => GraphQLJSON, {
    description:
      'The EIP-712 BundleImport to sign before importBundle (`typedData`), and the record id of each entry (`recordIds`)',
  })
  async bundleTypedData(
    @Arg('patient', () => String) patient: string,
    @Arg('bundle', () => GraphQLJSON) bundle: unknown,
    @Ctx() ctx: RequestContext,
  ): Promise<unknown> {
    return ctx.services.records.bundleTypedData(await ctx.caller(), patient, bundle);
  }

  @Mutation(() => ImportResult, {
    description: 'Imports a FHIR R4 transaction or collection Bundle (Synthea included), all or nothing',
  })
  async importBundle(
    @Arg('patient', () => String) patient: string,
    @Arg('bundle', () => GraphQLJSON) bundle: unknown,
    @Arg('recordIds', () => [ID], {
      nullable: 'itemsAndList',
      description: "bundleTypedData's recordIds, by entry position (needed to sign)",
    })
    recordIds: (string | null)[] | null,
    @Arg('authorSignature', () => String, {
      nullable: true,
      description: "The caller's EIP-712 signature over bundleTypedData's typedData",
    })
    authorSignature: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<ImportResult> {
    const caller = await ctx.caller();
    await ctx.rateLimit('importBundle', caller);
    return (await ctx.services.records.importBundle(caller, patient, bundle, {
      recordIds: recordIds ?? undefined,
      authorSignature: authorSignature ?? undefined,
    })) as ImportResult;
  }

  @Query(() => HealthRecord, { nullable: true })
  async record(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<HealthRecordRoot> {
    const root = toHealthRecord(await ctx.services.records.getRecord(await ctx.caller(), id));
    return { ...root, readAuthorized: true };
  }

  @Query(() => RecordProof, { description: 'Checks CID ↔ content ↔ chain event for the current version' })
  async verifyRecord(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<RecordProof> {
    return ctx.services.records.verifyRecord(await ctx.caller(), id);
  }

  @Subscription(() => HealthRecord, {
    description: "Every new record version in the patient's chart, whichever path wrote it",
    subscribe: async ({ args, context }) => {
      const ctx = context as RequestContext;
      return ctx.services.records.watch(await ctx.caller(), String(args.patient));
    },
  })
  recordAdded(
    @Root() record: RecordEntity,
    @Arg('patient', () => String) _patient: string,
  ): HealthRecordRoot {
    return { ...toHealthRecord(record), readAuthorized: true };
  }

  @FieldResolver(() => GraphQLJSON)
  async resource(@Root() root: HealthRecordRoot, @Ctx() ctx: RequestContext): Promise<unknown> {
    return this.content(root, ctx);
  }

  @FieldResolver(() => String)
  async cid(@Root() root: HealthRecordRoot, @Ctx() ctx: RequestContext): Promise<string> {
    return (await this.current(root, ctx)).cid;
  }

  @FieldResolver(() => String, {
    nullable: true,
    description:
      "CID of an envelope the caller's own box key opens (the record's, or a copy made for a grantee); null if none",
  })
  async envelopeCid(@Root() root: HealthRecordRoot, @Ctx() ctx: RequestContext): Promise<string | null> {
    await ctx.caller();
    return envelopeCidLoader(ctx).load(await this.current(root, ctx));
  }

  @FieldResolver(() => Anchor)
  async anchor(@Root() root: HealthRecordRoot, @Ctx() ctx: RequestContext): Promise<Anchor> {
    return toAnchor(await this.current(root, ctx));
  }

  @FieldResolver(() => Boolean)
  async authorVerified(@Root() root: HealthRecordRoot, @Ctx() ctx: RequestContext): Promise<boolean> {
    return (await this.current(root, ctx)).authorVerified;
  }

  @FieldResolver(() => [RecordVersion])
  async history(@Root() root: HealthRecordRoot, @Ctx() ctx: RequestContext): Promise<RecordVersion[]> {
    const rows = await historyLoader(ctx).load(root.entity);
    return rows.map((row) => ({
      version: row.version,
      cid: row.cid,
      author: checksumAddress(row.author),
      createdAt: row.createdAt,
      anchor: toAnchor(row),
      authorVerified: row.authorVerified,
    }));
  }

  @FieldResolver(() => [ResolvedReference])
  async references(@Root() root: HealthRecordRoot, @Ctx() ctx: RequestContext): Promise<ResolvedReference[]> {
    const resource = await this.content(root, ctx);
    return referencesLoader(ctx).load({ record: root.entity, resource });
  }

  /** Decrypted content, after a per-record read check wherever the record came from a list. */
  private async content(root: HealthRecordRoot, ctx: RequestContext): Promise<Resource> {
    if (!root.readAuthorized) await readAccessLoader(ctx).load(root.entity);
    return resourceLoader(ctx).load(root.entity);
  }

  private current(root: HealthRecordRoot, ctx: RequestContext): Promise<RecordVersionEntity> {
    return currentVersionLoader(ctx).load(root.entity);
  }
}
