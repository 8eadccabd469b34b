import { timeOfBlock, type BlockTime } from '../ledger/block-time.js';
import { normalizeAddress } from '../ledger/address.js';
import type { Caller } from '../auth/caller.js';
import { canonicalScopes, parseScopes, scopesCoverReading } from '../auth/scopes.js';
import type { AuditLog } from '../audit/audit-log.js';
import { BadUserInputError, ConflictError, NotFoundError } from '../errors.js';
import type { Ledger } from '../ledger/chain-client.js';
import { relayedToContract } from '../ledger/contract-reverts.js';
import type { AccountStore } from '../storage/account-store.js';
import type { AccountEntity, GrantEntity } from '../storage/entities/index.js';
import type { ActiveConsentKey, GrantStore } from '../storage/grant-store.js';

const MAX_GRANT_SECONDS = 5 * 365 * 24 * 3600;

export interface GrantRequestInput {
  patient: string;
  grantee: string;
  scopes: string[];
  expiresAt: Date;
}

export interface GrantServiceOptions {
  grants: GrantStore;
  accounts: AccountStore;
  ledger: Ledger;
  audit: AuditLog;
  /** Wraps keys of the patient's existing records for a new grantee (optional). */
  onGranted?: (grant: GrantEntity, granteeBoxKey: Uint8Array) => Promise<void>;
  /**
   * Unix time of a block: a revocation is dated by its block, so the relaying node and a node that
   * indexes (or rebuilds) it later show the same revokedAt. Without it, the local clock.
   */
  blockTime?: BlockTime;
}

interface ValidGrantRequest {
  patient: string;
  grantee: string;
  scopes: string;
  expiresAt: number;
}

/**
 * Consent: builds the EIP-712 payloads patients sign, relays signed grants and revocations to the
 * contract (which checks the signature, so nothing here can forge consent), keeps the grants cache
 * current, and opens break-glass access.
 */
export class GrantService {
  constructor(private readonly options: GrantServiceOptions) {}

  async grantTypedData(input: GrantRequestInput): Promise<unknown> {
    const request = await this.validate(input);
    return this.options.ledger.grantTypedData(request);
  }

  async revokeTypedData(grantId: string): Promise<unknown> {
    const grant = await this.consentGrant(grantId);
    return this.options.ledger.revokeTypedData({ patient: grant.patient, grantId: grant.id });
  }

  async grantAccess(input: GrantRequestInput, signature: string): Promise<GrantEntity> {
    const request = await this.validate(input);
    const nonce = await this.options.ledger.patientNonce(request.patient);
    const result = await relayedToContract(() =>
      this.options.ledger.relayGrant({ ...request, nonce, signature: checkSignature(signature) }),
    );
    // Written through so the grant works on the very next request, before the indexer sees the event.
    const grant = await this.options.grants.saveConsent({
      id: result.grantId,
      patient: request.patient,
      grantee: request.grantee,
      scopes: request.scopes,
      expiresAt: new Date(request.expiresAt * 1000),
      revokedAt: null,
      reason: null,
      createdTx: result.txHash,
      createdBlock: result.blockNumber,
      revokedTx: null,
    });
    const grantee = await this.account(request.grantee);
    await this.options.onGranted?.(grant, new Uint8Array(Buffer.from(grantee.boxPublicKey, 'base64')));
    return grant;
  }

  async revokeAccess(grantId: string, signature: string): Promise<GrantEntity> {
    const grant = await this.consentGrant(grantId);
    if (grant.revokedAt) throw new ConflictError(`grant ${grantId} is already revoked`);
    const nonce = await this.options.ledger.patientNonce(grant.patient);
    const result = await relayedToContract(() =>
      this.options.ledger.relayRevoke({ grantId: grant.id, nonce, signature: checkSignature(signature) }),
    );
    grant.revokedAt = await timeOfBlock(this.options.blockTime, result.blockNumber, { orNow: true });
    grant.revokedTx = result.txHash;
    grant.revokedBlock = result.blockNumber;
    return this.options.grants.saveRevocation(grant);
  }

  /** The patient sees every grant on their chart; anyone else only the ones made to them. */
  async grantsOf(caller: Caller, patientInput: string): Promise<GrantEntity[]> {
    const patient = normalizeAddress(patientInput, 'patient');
    return this.options.grants.grantsOn(patient, caller.address === patient ? undefined : caller.address);
  }

  /**
   * Per resource type, the box keys of the grantees among `consents` (the chart's active grants as a
   * write looked them up) whose scopes cover reading new records of that type. Each grant's scopes
   * are parsed once for all the types.
   */
  granteeKeysFor(
    resourceTypes: readonly string[],
    consents: readonly ActiveConsentKey[],
  ): Map<string, Uint8Array[]> {
    const grantees = consents.map((row) => ({
      scopes: parseScopes(row.scopes.split(' ')),
      boxPublicKey: new Uint8Array(Buffer.from(row.boxPublicKey, 'base64')),
    }));
    return new Map(
      resourceTypes.map((type) => [
        type,
        grantees.filter((g) => scopesCoverReading(g.scopes, type)).map((g) => g.boxPublicKey),
      ]),
    );
  }

  /** Applies grant events from the chain indexer (grants relayed by other nodes). */
  async applyChainGrant(event: {
    grantId: string;
    patient: string;
    grantee: string;
    scopes: string;
    expiresAt: number;
    txHash: string;
    blockNumber: number;
  }): Promise<void> {
    await this.options.grants.adoptChainGrant({
      id: event.grantId,
      patient: event.patient.toLowerCase(),
      grantee: event.grantee.toLowerCase(),
      scopes: event.scopes,
      expiresAt: new Date(event.expiresAt * 1000),
      reason: null,
      createdTx: event.txHash,
      createdBlock: event.blockNumber,
    });
  }

  /**
   * Applies a revocation from the chain. A revocation that arrives before its grant (the grant's
   * event quarantined and retried later) leaves a revoked row, which the late grant cannot reopen.
   */
  async applyChainRevoke(event: {
    grantId: string;
    patient: string;
    grantee: string;
    txHash: string;
    blockNumber: number;
  }): Promise<void> {
    await this.options.grants.adoptChainRevocation({
      grantId: event.grantId,
      patient: event.patient.toLowerCase(),
      grantee: event.grantee.toLowerCase(),
      txHash: event.txHash,
      blockNumber: event.blockNumber,
      revokedAt: await timeOfBlock(this.options.blockTime, event.blockNumber),
    });
  }

  private async validate(input: GrantRequestInput): Promise<ValidGrantRequest> {
    const patient = normalizeAddress(input.patient, 'patient');
    const grantee = normalizeAddress(input.grantee, 'grantee');
    if (patient === grantee)
      throw new BadUserInputError('a patient cannot grant access to themselves', { field: 'grantee' });
    const scopes = canonicalScopes(input.scopes);
    const parsed = parseScopes(input.scopes);
    const expiresAt = Math.floor(input.expiresAt.getTime() / 1000);
    const now = Math.floor(Date.now() / 1000);
    if (!Number.isFinite(expiresAt) || expiresAt <= now + 5 || expiresAt > now + MAX_GRANT_SECONDS) {
      throw new BadUserInputError('expiresAt must be in the future and within 5 years', {
        field: 'expiresAt',
      });
    }
    await this.account(patient, 'PATIENT');
    const granteeAccount = await this.account(grantee);
    // Research is consent to be counted by an organization's attested analysts: a grant of it to a
    // person would let nobody use it, or suggest it lets that person read.
    if (parsed.research && granteeAccount.role !== 'ORGANIZATION') {
      throw new BadUserInputError(
        'the research scope is granted to an organization (an ORGANIZATION account)',
        {
          field: 'grantee',
          reason: 'RESEARCH_GRANTEE_NOT_ORGANIZATION',
        },
      );
    }
    return { patient, grantee, scopes, expiresAt };
  }

  private async account(address: string, role?: AccountEntity['role']): Promise<AccountEntity> {
    const account = await this.options.accounts.find(address);
    if (!account || (role && account.role !== role)) {
      throw new NotFoundError(
        `no ${role ? role.toLowerCase() + ' ' : ''}account is registered for ${address}`,
      );
    }
    return account;
  }

  private async consentGrant(grantId: string): Promise<GrantEntity> {
    if (!/^\d{1,78}$/.test(grantId)) {
      throw new BadUserInputError('grantId must be the decimal id of a consent grant', { field: 'grantId' });
    }
    const grant = await this.options.grants.consentGrant(grantId);
    if (!grant) throw new NotFoundError(`no consent grant ${grantId}`);
    return grant;
  }
}

function checkSignature(signature: string): string {
  if (typeof signature !== 'string' || !/^0x[0-9a-fA-F]{130}$/.test(signature)) {
    throw new BadUserInputError('signature must be a 65-byte 0x-hex EIP-712 signature', {
      field: 'signature',
    });
  }
  return signature;
}
