import { GraphQLJSON } from 'graphql-scalars';
import { Arg, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import { checksumAddress, normalizeAddress } from '../ledger/address.js';
import type { GrantEntity } from '../storage/entities/index.js';
import { BreakGlassPolicy, Grant, GrantInput, GrantKindName } from '../schema/grant.type.js';
import type { RequestContext } from './context.js';

export function toGrant(entity: GrantEntity): Grant {
  return {
    id: entity.id,
    kind: entity.kind as GrantKindName,
    patient: checksumAddress(entity.patient),
    grantee: checksumAddress(entity.grantee),
    scopes: entity.scopes.split(' '),
    expiresAt: entity.expiresAt,
    revokedAt: entity.revokedAt,
    active: !entity.revokedAt && entity.expiresAt.getTime() > Date.now(),
    reason: entity.reason,
    createdTx: entity.createdTx,
    createdBlock: entity.createdBlock,
    revokedTx: entity.revokedTx,
  };
}

@Resolver(() => Grant)
export class GrantResolver {
  @Query(() => GraphQLJSON, {
    description: 'The EIP-712 typed data the patient signs (eth_signTypedData_v4) to grant access',
  })
  grantTypedData(
    @Arg('input', () => GrantInput) input: GrantInput,
    @Ctx() ctx: RequestContext,
  ): Promise<unknown> {
    return ctx.services.grants.grantTypedData(input);
  }

  @Query(() => GraphQLJSON, { description: 'The EIP-712 typed data the patient signs to revoke a grant' })
  revokeTypedData(@Arg('grantId', () => ID) grantId: string, @Ctx() ctx: RequestContext): Promise<unknown> {
    return ctx.services.grants.revokeTypedData(grantId);
  }

  @Mutation(() => Grant, { description: 'Relays a patient-signed grant to the contract, which verifies it' })
  async grantAccess(
    @Arg('input', () => GrantInput) input: GrantInput,
    @Arg('signature', () => String) signature: string,
    @Ctx() ctx: RequestContext,
  ): Promise<Grant> {
    await ctx.rateLimit('relay', await ctx.caller());
    return toGrant(await ctx.services.grants.grantAccess(input, signature));
  }

  @Mutation(() => Grant, {
    description:
      'Relays a patient-signed revocation; effective on the next request. reseal: also rotate the keys of records the grantee could open',
  })
  async revokeAccess(
    @Arg('grantId', () => ID) grantId: string,
    @Arg('signature', () => String) signature: string,
    @Arg('reseal', () => Boolean, { defaultValue: false }) reseal: boolean,
    @Ctx() ctx: RequestContext,
  ): Promise<Grant> {
    await ctx.rateLimit('relay', await ctx.caller());
    const grant = await ctx.services.grants.revokeAccess(grantId, signature);
    const resealedRecords = reseal ? await ctx.services.keyRotation.resealPatient(grant.patient) : null;
    return { ...toGrant(grant), resealedRecords };
  }

  @Mutation(() => Int, {
    description:
      'Key rotation: new versions under fresh keys for every record someone without access can still open; returns how many',
  })
  async resealRecords(
    @Arg('patient', () => String) patientInput: string,
    @Ctx() ctx: RequestContext,
  ): Promise<number> {
    const patient = normalizeAddress(patientInput, 'patient');
    await ctx.services.policy.authorize({ caller: await ctx.caller(), patient, action: 'grant' });
    return ctx.services.keyRotation.resealPatient(patient);
  }

  @Query(() => [Grant], { description: "The patient's grants (a grantee sees only its own)" })
  async grants(@Arg('patient', () => String) patient: string, @Ctx() ctx: RequestContext): Promise<Grant[]> {
    return (await ctx.services.grants.grantsOf(await ctx.caller(), patient)).map(toGrant);
  }

  @Mutation(() => Grant, {
    description: 'Emergency read access for a practitioner for one hour; audited and the patient is alerted',
  })
  async breakGlass(
    @Arg('patient', () => String) patient: string,
    @Arg('reason', () => String) reason: string,
    @Ctx() ctx: RequestContext,
  ): Promise<Grant> {
    const caller = await ctx.caller();
    await ctx.rateLimit('breakGlass', caller);
    return toGrant(await ctx.services.breakGlass.breakGlass(caller, patient, reason));
  }

  @Mutation(() => Grant, {
    description: 'Ends a break-glass access now, on every node (the patient, or the practitioner when done)',
  })
  async endBreakGlass(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Grant> {
    const caller = await ctx.caller();
    await ctx.rateLimit('relay', caller);
    return toGrant(await ctx.services.breakGlass.endBreakGlass(caller, id));
  }

  @Query(() => GraphQLJSON, {
    description: 'The EIP-712 typed data the patient signs to refuse (or allow again) break-glass',
  })
  breakGlassPolicyTypedData(
    @Arg('patient', () => String) patient: string,
    @Arg('refuse', () => Boolean) refuse: boolean,
    @Ctx() ctx: RequestContext,
  ): Promise<unknown> {
    return ctx.services.breakGlass.breakGlassPolicyTypedData(patient, refuse);
  }

  @Mutation(() => BreakGlassPolicy, {
    description: 'Relays the patient-signed break-glass policy; the contract checks the signature',
  })
  async setBreakGlassPolicy(
    @Arg('patient', () => String) patient: string,
    @Arg('refuse', () => Boolean) refuse: boolean,
    @Arg('signature', () => String) signature: string,
    @Ctx() ctx: RequestContext,
  ): Promise<BreakGlassPolicy> {
    await ctx.rateLimit('relay', await ctx.caller());
    const policy = await ctx.services.breakGlass.setBreakGlassPolicy(patient, refuse, signature);
    return { patient: checksumAddress(policy.patient), refuse: policy.refuse, txHash: policy.txHash };
  }

  @Query(() => BreakGlassPolicy, {
    description: "The patient's break-glass policy as this node last synced it",
  })
  async breakGlassPolicy(
    @Arg('patient', () => String) patientInput: string,
    @Ctx() ctx: RequestContext,
  ): Promise<BreakGlassPolicy> {
    const policy = await ctx.services.breakGlass.policyOf(normalizeAddress(patientInput, 'patient'));
    return { ...policy, patient: checksumAddress(policy.patient) };
  }
}
