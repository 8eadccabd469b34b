import { Arg, Ctx, FieldResolver, Mutation, Query, Resolver, Root } from 'type-graphql';
import { checksumAddress, normalizeAddress } from '../ledger/address.js';
import { Verification } from '../schema/identity.type.js';
import { toVerification } from './identity.resolver.js';
import type { AccountEntity } from '../storage/entities/index.js';
import { Account, Challenge, RegistrationInput, RoleName, Session } from '../schema/account.type.js';
import type { RequestContext } from './context.js';

export function toAccount(entity: AccountEntity): Account {
  return {
    address: checksumAddress(entity.address),
    role: entity.role as RoleName,
    displayName: entity.displayName,
    boxPublicKey: entity.boxPublicKey,
    registeredAt: entity.createdAt,
    keyAnchorTx: entity.keyAnchorTx,
  };
}

@Resolver(() => Account)
export class AccountResolver {
  @Query(() => String, { description: 'The exact text a wallet signs (EIP-191 personal_sign) to register' })
  registrationMessage(
    @Arg('input', () => RegistrationInput) input: RegistrationInput,
    @Ctx() ctx: RequestContext,
  ) {
    return ctx.services.accounts.registrationMessage(input);
  }

  @Mutation(() => Account)
  async registerAccount(
    @Arg('input', () => RegistrationInput) input: RegistrationInput,
    @Arg('signature', () => String) signature: string,
    @Ctx() ctx: RequestContext,
  ): Promise<Account> {
    await ctx.rateLimit('registerAccount');
    return toAccount(await ctx.services.accounts.register(input, signature));
  }

  @Mutation(() => Challenge, { description: 'A one-time Sign-In with Ethereum message for login' })
  async loginChallenge(
    @Arg('address', () => String) address: string,
    @Ctx() ctx: RequestContext,
  ): Promise<Challenge> {
    // Per client address only: the address argument is a claim, and counting it would let anyone
    // lock another account out of logging in.
    await ctx.rateLimit('loginChallenge');
    return ctx.services.logins.challenge(address);
  }

  @Mutation(() => Session)
  async login(
    @Arg('message', () => String) message: string,
    @Arg('signature', () => String) signature: string,
    @Ctx() ctx: RequestContext,
  ): Promise<Session> {
    await ctx.rateLimit('login');
    const session = await ctx.services.logins.login(message, signature);
    return { token: session.token, expiresAt: session.expiresAt, account: toAccount(session.account) };
  }

  @Mutation(() => Boolean, { description: 'Revokes the session of the bearer token used' })
  async logout(@Ctx() ctx: RequestContext): Promise<boolean> {
    await ctx.services.logins.logout(await ctx.caller());
    return true;
  }

  @Query(() => Account, {
    nullable: true,
    description:
      'A registered account by address (public: the registration is on chain), with its verification',
  })
  async account(@Arg('address', () => String) address: string, @Ctx() ctx: RequestContext) {
    const account = await ctx.services.accounts.find(normalizeAddress(address, 'address'));
    return account ? toAccount(account) : null;
  }

  @FieldResolver(() => Verification)
  async verification(@Root() account: Account, @Ctx() ctx: RequestContext): Promise<Verification> {
    const verification = await ctx.services.attestations.verificationOf(account.address, account.role);
    return toVerification(ctx, verification);
  }

  @Query(() => Account, {
    nullable: true,
    description: 'The account of the bearer token, or null without one',
  })
  async me(@Ctx() ctx: RequestContext): Promise<Account | null> {
    const caller = await ctx.optionalCaller();
    if (!caller) return null;
    const account = await ctx.services.accounts.find(caller.address);
    return account ? toAccount(account) : null;
  }
}
