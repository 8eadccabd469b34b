import { Arg, Ctx, FieldResolver, Int, Query, Resolver, Root } from 'type-graphql';
import { checksumAddress, normalizeAddress } from '../ledger/address.js';
import type { TimelineFilter } from '../records/chart-service.js';
import { ChartSource, ChartSummary, PatientChart, TimelineConnection } from '../schema/chart.type.js';
import type { RequestContext } from './context.js';
import { toHealthRecord } from './record.resolver.js';

type ChartRoot = PatientChart & { address: string };
type TimelineRoot = TimelineConnection & { patient: string; filter: TimelineFilter };

@Resolver(() => PatientChart)
export class ChartResolver {
  @Query(() => PatientChart, {
    description: "A patient's unified chart; each field checks access on its own",
  })
  phr(@Arg('patient', () => String) patient: string): ChartRoot {
    const address = normalizeAddress(patient, 'patient');
    return { address, patient: checksumAddress(address) };
  }

  @FieldResolver(() => ChartSummary)
  async summary(@Root() root: ChartRoot, @Ctx() ctx: RequestContext): Promise<ChartSummary> {
    const summary = await ctx.services.chart.summary(await ctx.caller(), root.address, ctx.decryptions);
    return {
      ...summary,
      activeConditions: summary.activeConditions.map(toHealthRecord),
      allergies: summary.allergies.map(toHealthRecord),
      activeMedications: summary.activeMedications.map(toHealthRecord),
      immunizations: summary.immunizations.map(toHealthRecord),
    };
  }

  @FieldResolver(() => TimelineConnection)
  async timeline(
    @Root() root: ChartRoot,
    @Ctx() ctx: RequestContext,
    @Arg('first', () => Int, { defaultValue: 20 }) first: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
    @Arg('types', () => [String], { nullable: true, description: 'FHIR resource types to include' })
    types?: string[],
    @Arg('from', () => String, { nullable: true, description: 'FHIR date/dateTime, inclusive' })
    from?: string,
    @Arg('to', () => String, {
      nullable: true,
      description: 'FHIR date/dateTime, inclusive (2021-05 = all of May)',
    })
    to?: string,
    @Arg('code', () => String, { nullable: true, description: '`system|code`, or a bare code in any system' })
    code?: string,
  ): Promise<TimelineRoot> {
    const filter: TimelineFilter = { types, from, to, code };
    const page = await ctx.services.chart.timeline(await ctx.caller(), root.address, {
      ...filter,
      first,
      after,
    });
    return {
      patient: root.address,
      filter,
      edges: page.edges.map((edge) => ({ cursor: edge.cursor, node: toHealthRecord(edge.record) })),
      pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.endCursor },
    };
  }

  @FieldResolver(() => [ChartSource])
  async sources(@Root() root: ChartRoot, @Ctx() ctx: RequestContext): Promise<ChartSource[]> {
    const sources = await ctx.services.chart.sources(await ctx.caller(), root.address);
    return sources.map((s) => ({ ...s, account: checksumAddress(s.account) }));
  }
}

@Resolver(() => TimelineConnection)
export class TimelineResolver {
  @FieldResolver(() => Int)
  async totalCount(@Root() root: TimelineRoot, @Ctx() ctx: RequestContext): Promise<number> {
    return ctx.services.chart.timelineCount(await ctx.caller(), root.patient, root.filter);
  }
}
