import { GraphQLJSON } from 'graphql-scalars';
import { Arg, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import { checksumAddress } from '../ledger/address.js';
import type { Verification as VerificationModel } from '../auth/attestation-service.js';
import {
  AttestationInput,
  OrganizationAdmission,
  Verification,
  VerificationStatusName,
} from '../schema/identity.type.js';
import type { RequestContext } from './context.js';

/** The verification as clients see it: checksummed addresses and the organization's registered name. */
export async function toVerification(ctx: RequestContext, v: VerificationModel): Promise<Verification> {
  const organization = v.organization ? await ctx.services.accounts.find(v.organization) : null;
  return {
    status: v.status as VerificationStatusName,
    role: v.role,
    organization: v.organization ? checksumAddress(v.organization) : null,
    organizationName: organization?.displayName ?? null,
    identifier: v.identifier,
    expiresAt: v.expiresAt,
    txHash: v.txHash,
  };
}

/** The registrar: the operator admits organizations, organizations attest practitioners and analysts. */
@Resolver()
export class IdentityResolver {
  @Mutation(() => OrganizationAdmission, {
    description:
      'Network operator only (a node ADMIN whose relayer is the contract owner): admit an organization, or withdraw it',
  })
  async admitOrganization(
    @Arg('organization', () => String) organization: string,
    @Arg('admitted', () => Boolean, { defaultValue: true }) admitted: boolean,
    @Ctx() ctx: RequestContext,
  ): Promise<OrganizationAdmission> {
    const caller = await ctx.caller();
    await ctx.rateLimit('relay', caller);
    const tx = await ctx.services.attestations.admitOrganization(caller, organization, admitted);
    return { organization: checksumAddress(organization.toLowerCase()), admitted, txHash: tx.txHash };
  }

  @Query(() => GraphQLJSON, {
    description: 'The EIP-712 typed data an admitted organization signs (eth_signTypedData_v4) to attest',
  })
  attestationTypedData(
    @Arg('input', () => AttestationInput) input: AttestationInput,
    @Ctx() ctx: RequestContext,
  ): Promise<unknown> {
    return ctx.services.attestations.attestationTypedData(input);
  }

  @Mutation(() => Verification, {
    description:
      'Relays an organization-signed attestation; the contract checks the organization is admitted',
  })
  async attest(
    @Arg('input', () => AttestationInput) input: AttestationInput,
    @Arg('signature', () => String) signature: string,
    @Ctx() ctx: RequestContext,
  ): Promise<Verification> {
    await ctx.rateLimit('relay', await ctx.caller());
    return toVerification(ctx, await ctx.services.attestations.attest(input, signature));
  }

  @Query(() => GraphQLJSON, {
    description:
      'Typed data to revoke an attestation; signer: the attesting organization (default) or the owner',
  })
  revokeAttestationTypedData(
    @Arg('subject', () => String) subject: string,
    @Arg('signer', () => String, { nullable: true }) signer: string | undefined,
    @Ctx() ctx: RequestContext,
  ): Promise<unknown> {
    return ctx.services.attestations.revokeAttestationTypedData(subject, signer);
  }

  @Mutation(() => Verification, {
    description:
      "Revokes an attestation with the organization's or owner's signature (anyone relays); without one, a node ADMIN whose relayer is the owner",
  })
  async revokeAttestation(
    @Arg('subject', () => String) subject: string,
    @Arg('signature', () => String, { nullable: true }) signature: string | undefined,
    @Ctx() ctx: RequestContext,
  ): Promise<Verification> {
    const caller = await ctx.caller();
    await ctx.rateLimit('relay', caller);
    return toVerification(ctx, await ctx.services.attestations.revokeAttestation(caller, subject, signature));
  }
}
