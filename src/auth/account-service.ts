import { BadUserInputError, ConflictError, ForbiddenError, UnauthenticatedError } from '../errors.js';
import { recoverMessageSigner } from '../ledger/address.js';
import type { Ledger } from '../ledger/chain-client.js';
import { TransactionRevertedError } from '../ledger/ledger-errors.js';
import type { AccountStore } from '../storage/account-store.js';
import type { AccountEntity } from '../storage/entities/index.js';
import {
  registrationMessage,
  validateRegistration,
  type RegistrationFields,
  type ValidRegistration,
} from './registration-message.js';

/** How far a signed registration's issue time may be from the node's clock. */
const REGISTRATION_WINDOW_MS = 10 * 60 * 1000;

export interface AccountServiceOptions {
  accounts: AccountStore;
  ledger: Ledger;
  /** Lower-case addresses allowed to register as ADMIN. */
  admins: string[];
  /** Called with the proven account before a registration is sent to the chain (the rate limit). */
  beforeRelay?: (account: string) => Promise<void>;
}

/** Registration and lookup of accounts; the box key is also registered on chain for sovereignty. */
export class AccountService {
  constructor(private readonly options: AccountServiceOptions) {}

  registrationMessage(fields: RegistrationFields): string {
    return registrationMessage(validateRegistration(fields), this.options.ledger);
  }

  async register(fields: RegistrationFields, signature: string): Promise<AccountEntity> {
    const registration = validateRegistration(fields);
    const message = registrationMessage(registration, this.options.ledger);
    this.assertSignedBy(message, signature, registration.address);
    this.assertFresh(registration);
    if (registration.role === 'ADMIN' && !this.options.admins.includes(registration.address)) {
      throw new ForbiddenError('ADMIN registration is limited to the addresses in OMNICHART_ADMINS');
    }
    const existing = await this.options.accounts.find(registration.address);
    if (existing) this.assertValidUpdate(existing, registration);
    // Nothing the chain holds would change: answer the account as it is and send no transaction (the
    // stored row stays the registration on chain, so a rebuilt cache gives the same answer). A new
    // display name alone is still relayed: other nodes learn accounts only from AccountRegistered.
    if (existing && sameOnChain(existing, registration)) return existing;
    await this.options.beforeRelay?.(registration.address);

    // The contract rebuilds the signed text and checks the signer too, so no relayer can set a key.
    const anchor = await relayRegistration(() =>
      this.options.ledger.registerAccount({
        account: registration.address,
        role: registration.role,
        displayName: registration.displayName,
        boxPublicKey: registration.boxPublicKey,
        issuedAt: registration.issuedAt.toISOString(),
        signature,
      }),
    );
    await this.saveRegistration(registration, signature, anchor.txHash);
    const saved = await this.options.accounts.find(registration.address);
    if (!saved) throw new Error(`account ${registration.address} vanished after its registration was saved`);
    return saved;
  }

  /**
   * Adopts an account from its `AccountRegistered` event (registered at any node; the contract has
   * checked the signature and the order). Checked again here under the same rules as a local
   * registration: the account's signature over this chain's text, a fixed role, newer `issuedAt`
   * only. Returns false when nothing changed.
   */
  async adoptRegistration(
    fields: RegistrationFields,
    signature: string,
    keyAnchorTx: string | null,
  ): Promise<boolean> {
    const registration = validateRegistration(fields);
    this.assertSignedBy(
      registrationMessage(registration, this.options.ledger),
      signature,
      registration.address,
    );
    // Who administers this node is this node's decision, whatever another node accepted.
    if (registration.role === 'ADMIN' && !this.options.admins.includes(registration.address)) return false;
    const existing = await this.options.accounts.find(registration.address);
    if (existing && existing.registrationIssuedAt.getTime() >= registration.issuedAt.getTime()) return false;
    if (existing && existing.role !== registration.role) {
      throw new ConflictError(`the account is registered as ${existing.role}; roles cannot be changed`);
    }
    return this.saveRegistration(registration, signature, keyAnchorTx);
  }

  /** Stores the registration unless the stored one is as new (see AccountStore.saveRegistration). */
  private saveRegistration(
    registration: ValidRegistration,
    signature: string,
    keyAnchorTx: string | null,
  ): Promise<boolean> {
    return this.options.accounts.saveRegistration({
      address: registration.address,
      role: registration.role,
      displayName: registration.displayName,
      boxPublicKey: Buffer.from(registration.boxPublicKey).toString('base64'),
      issuedAt: registration.issuedAt,
      signature,
      keyAnchorTx,
    });
  }

  async find(address: string): Promise<AccountEntity | null> {
    return this.options.accounts.find(address);
  }

  private assertSignedBy(message: string, signature: string, address: string): void {
    let signer: string;
    try {
      signer = recoverMessageSigner(message, signature);
    } catch {
      throw new BadUserInputError('signature is not a valid 65-byte Ethereum signature', {
        field: 'signature',
      });
    }
    if (signer !== address) {
      throw new UnauthenticatedError(
        'registration signature does not match the address: sign the exact text of registrationMessage',
      );
    }
  }

  private assertFresh(registration: ValidRegistration): void {
    if (Math.abs(Date.now() - registration.issuedAt.getTime()) > REGISTRATION_WINDOW_MS) {
      throw new BadUserInputError('issuedAt must be within 10 minutes of the node clock', {
        field: 'issuedAt',
      });
    }
  }

  private assertValidUpdate(existing: AccountEntity, registration: ValidRegistration): void {
    if (registration.issuedAt.getTime() <= existing.registrationIssuedAt.getTime()) {
      throw new ConflictError('a registration issued at the same time or later is already on record');
    }
    if (existing.role !== registration.role) {
      throw new ConflictError(`the account is registered as ${existing.role}; roles cannot be changed`);
    }
  }
}

/** Reverts the contract can answer a registration with, as the codes clients act on. */
async function relayRegistration<T>(send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (error) {
    if (!(error instanceof TransactionRevertedError)) throw error;
    if (error.reason === 'StaleRegistration') {
      throw new ConflictError('a registration issued at the same time or later is already on chain');
    }
    if (error.reason === 'RoleChanged') throw new ConflictError('roles cannot be changed');
    if (error.reason === 'InvalidSignature') {
      throw new UnauthenticatedError('the contract refused the registration signature');
    }
    throw new BadUserInputError(`the contract refused the registration: ${error.reason}`);
  }
}

function sameOnChain(existing: AccountEntity, registration: ValidRegistration): boolean {
  return (
    existing.role === registration.role &&
    existing.displayName === registration.displayName &&
    existing.boxPublicKey === Buffer.from(registration.boxPublicKey).toString('base64')
  );
}
