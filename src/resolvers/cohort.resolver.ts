import { Arg, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import { checksumAddress } from '../ledger/address.js';
import { CohortQueryInput, CohortStatistics, CohortTrainingInput } from '../schema/cohort.type.js';
import { Model } from '../schema/model.type.js';
import { toModel } from './model.resolver.js';
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

  @Mutation(() => Model, {
    description:
      "Attested ANALYST: trains a model on the charts of patients who granted research to the analyst's organization (label: a Condition code); answers with its card when served",
  })
  async trainCohortModel(
    @Arg('input', () => CohortTrainingInput) input: CohortTrainingInput,
    @Ctx() ctx: RequestContext,
  ): Promise<Model> {
    const caller = await ctx.caller();
    return toModel(await ctx.services.cohortTraining.train(caller, input, ctx.decryptions));
  }
}
