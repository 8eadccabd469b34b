import { Arg, Ctx, Query, Resolver } from 'type-graphql';
import { checksumAddress } from '../ledger/address.js';
import { CohortQueryInput, CohortStatistics } from '../schema/cohort.type.js';
import type { RequestContext } from './context.js';

@Resolver()
export class CohortResolver {
  @Query(() => CohortStatistics, {
    description:
      "Attested ANALYST: counts and rates over patients who granted research to the analyst's organization; cells under k suppressed, no rows; audited per counted patient",
  })
  async cohortStatistics(
    @Arg('input', () => CohortQueryInput) input: CohortQueryInput,
    @Ctx() ctx: RequestContext,
  ): Promise<CohortStatistics> {
    const caller = await ctx.caller();
    const result = await ctx.services.cohorts.cohortStatistics(caller, input, ctx.decryptions);
    return { ...result, organization: checksumAddress(result.organization) };
  }
}
