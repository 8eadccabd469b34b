import { BadUserInputError, ForbiddenError, NotFoundError } from '../errors.js';
import type {
  AttestationRevokedEvent,
  AttestedEvent,
  OrganizationAdmittedEvent,
} from '../ledger/chain-events.js';
import type { Ledger, TxResult } from '../ledger/chain-client.js';
import { ATTESTABLE_ROLES } from '../ledger/identity.js';
import type { AttestationStore } from '../storage/attestation-store.js';
import type { AttestationEntity, Role } from '../storage/entities/index.js';
import { normalizeAddress } from '../ledger/address.js';
import type { Caller } from './caller.js';
import { relayedToContract } from '../ledger/contract-reverts.js';
import { recoverTypedDataSigner } from '../ledger/typed-data.js';

/** Where an account stands with the registrar. */
export type VerificationStatus = 'VERIFIED' | 'UNVERIFIED' | 'EXPIRED' | 'REVOKED' | 'NOT_REQUIRED';

export interface Verification {
  status: VerificationStatus;
  /** The attested role (PRACTITIONER, ANALYST) or ORGANIZATION for an admitted organization. */
  role: string | null;
  /** Lower-case address of the attesting organization. */
  organization: string | null;
  identifier: string | null;
  expiresAt: Date | null;
  txHash: string | null;
}

export interface AttestationInput {
  subject: string;
  role: string;
  organization: string;
  /** FHIR `system|value`. */
  identifier: string;
  expiresAt: Date;
}

const MAX_ATTESTATION_SECONDS = 5 * 365 * 24 * 3600;

/**
 * Identity verification: PRACTITIONER, ORGANIZATION and ANALYST carry powers only while the chain holds
 * a valid attestation. The owner admits organizations; an admitted organization signs EIP-712
 * attestations for its practitioners and analysts; anyone relays; the contract checks every signature.
 * Decisions read the cache the chain indexer keeps, after catching up with the chain head, so a
 * revocation or an expiry counts on the next request on every node.
 */
export class AttestationService {
  constructor(
    private readonly options: {
      attestations: AttestationStore;
      ledger: Ledger;
      /**
       * The operation's sync step before a role-gated decision: the chain's events up to its head,
       * once per operation (fails closed when the chain cannot be read).
       */
      syncChain: () => Promise<void>;
      /**
       * Applies the chain's events now, after this node relayed a transaction, so the answer shows it
       * (never shared within an operation: a second relay in it needs its own pass). Default syncChain.
       */
      applyRelayed?: () => Promise<void>;
    },
  ) {}

  /** Owner only (a node ADMIN, when this node's relayer is the contract owner). */
  async admitOrganization(caller: Caller, organizationInput: string, admitted: boolean): Promise<TxResult> {
    const organization = normalizeAddress(organizationInput, 'organization');
    await this.requireOwnerAdmin(caller);
    const tx = await relayedToContract(() => this.options.ledger.admitOrganization(organization, admitted));
    await this.applyRelayed();
    return tx;
  }

  attestationTypedData(input: AttestationInput): Promise<unknown> {
    return this.options.ledger.attestationTypedData(validate(input));
  }

  /** Relays an organization-signed attestation; the contract checks the signer is admitted. */
  async attest(input: AttestationInput, signature: string): Promise<Verification> {
    const request = validate(input);
    // The organization signed its current nonce (as attestationTypedData gave it).
    const nonce = await this.options.ledger.patientNonce(request.organization);
    await relayedToContract(() => this.options.ledger.relayAttestation({ ...request, nonce, signature }));
    await this.applyRelayed();
    return this.verificationOf(request.subject);
  }

  /** Typed data the attesting organization (or, with `signer`, the owner) signs to revoke. */
  async revokeAttestationTypedData(subjectInput: string, signer?: string): Promise<unknown> {
    const subject = normalizeAddress(subjectInput, 'subject');
    const attestation = await this.current(subject);
    return this.options.ledger.revokeAttestationTypedData({
      subject,
      organization: attestation.organization,
      signer: signer ? normalizeAddress(signer, 'signer') : undefined,
    });
  }

  /**
   * Revokes a subject's attestation: with the organization's or owner's signature (anyone relays), or
   * without one for a node ADMIN when this node's relayer is the contract owner.
   */
  async revokeAttestation(
    caller: Caller,
    subjectInput: string,
    signature?: string | null,
  ): Promise<Verification> {
    const subject = normalizeAddress(subjectInput, 'subject');
    const attestation = await this.current(subject);
    if (signature) {
      const payload = await this.signedRevocation(subject, attestation.organization, signature);
      await relayedToContract(() =>
        this.options.ledger.relayRevokeAttestation({ subject, nonce: payload.message.nonce, signature }),
      );
    } else {
      await this.requireOwnerAdmin(caller);
      await relayedToContract(() => this.options.ledger.ownerRevokeAttestation(subject));
    }
    await this.applyRelayed();
    return this.verificationOf(subject);
  }

  /** What `Account.verification` shows; from the cache as of the last sync. */
  async verificationOf(addressInput: string, role?: Role): Promise<Verification> {
    const address = normalizeAddress(addressInput, 'address');
    if (role === 'PATIENT' || role === 'ADMIN') return unverified('NOT_REQUIRED');
    if (role === 'ORGANIZATION') {
      const organization = await this.options.attestations.organization(address);
      if (!organization) return unverified('UNVERIFIED');
      return {
        status: organization.admitted ? 'VERIFIED' : 'REVOKED',
        role: 'ORGANIZATION',
        organization: null,
        identifier: null,
        expiresAt: null,
        txHash: organization.txHash,
      };
    }
    const found = await this.options.attestations.attestationWithOrganization(address);
    if (!found) return unverified('UNVERIFIED');
    const { attestation, organizationAdmitted: admitted } = found;
    const status: VerificationStatus =
      attestation.revokedAt || !admitted
        ? 'REVOKED'
        : attestation.expiresAt.getTime() <= Date.now()
          ? 'EXPIRED'
          : 'VERIFIED';
    return {
      status,
      role: attestation.role,
      organization: attestation.organization,
      identifier: attestation.identifier,
      expiresAt: attestation.expiresAt,
      txHash: attestation.txHash,
    };
  }

  /**
   * Throws FORBIDDEN unless the caller holds `role` with a valid attestation right now (after
   * catching up with the chain, so a revocation made at any node counts).
   */
  async requireAttested(caller: Caller, role: 'PRACTITIONER' | 'ANALYST'): Promise<Verification> {
    if (caller.role !== role) throw new ForbiddenError(`only an attested ${role} may do this`);
    await this.options.syncChain();
    const verification = await this.verificationOf(caller.address, role);
    if (verification.status === 'VERIFIED' && verification.role === role) return verification;
    const why =
      verification.status === 'UNVERIFIED'
        ? `no attestation from an admitted organization is on chain for this account: the role ${role} is only self-declared`
        : `the account's attestation is ${verification.status.toLowerCase()}`;
    throw new ForbiddenError(`attestation missing: ${why}`);
  }

  /** True while `address` is validly attested for `role` (cache only: the caller has synced). */
  async isAttested(address: string, role: 'PRACTITIONER' | 'ANALYST'): Promise<boolean> {
    const verification = await this.verificationOf(address, role);
    return verification.status === 'VERIFIED' && verification.role === role;
  }

  async applyOrganizationAdmitted(event: OrganizationAdmittedEvent): Promise<void> {
    await this.options.attestations.saveOrganization({
      address: event.organization.toLowerCase(),
      admitted: event.admitted,
      txHash: event.txHash,
      blockNumber: event.blockNumber,
    });
  }

  /** A later event for the subject wins; an older one retried from quarantine changes nothing. */
  async applyAttested(event: AttestedEvent): Promise<void> {
    await this.options.attestations.adoptAttested({
      subject: event.subject.toLowerCase(),
      organization: event.organization.toLowerCase(),
      role: event.role,
      identifier: event.identifier,
      expiresAt: new Date(event.expiresAt * 1000),
      txHash: event.txHash,
      blockNumber: event.blockNumber,
    });
  }

  /**
   * Revokes the subject's attestation made before this event. Arriving before the attestation it
   * revokes (that event retried later), it leaves a revoked row at its own block, so the late
   * attestation (an older block) cannot reopen it.
   */
  async applyAttestationRevoked(event: AttestationRevokedEvent): Promise<void> {
    await this.options.attestations.adoptRevocation({
      subject: event.subject.toLowerCase(),
      organization: event.organization.toLowerCase(),
      revokedBy: event.revokedBy.toLowerCase(),
      txHash: event.txHash,
      blockNumber: event.blockNumber,
    });
  }

  private async current(subject: string): Promise<AttestationEntity> {
    const attestation = await this.options.attestations.attestation(subject);
    if (!attestation || attestation.revokedAt)
      throw new NotFoundError(`no active attestation for ${subject}`);
    return attestation;
  }

  /**
   * The revocation payload the signature was made over: the organization's or the owner's (each signs
   * its own nonce; the contract checks the signer again).
   */
  private async signedRevocation(subject: string, organization: string, signature: string) {
    const owner = await this.options.ledger.owner();
    for (const signer of [organization, owner]) {
      const payload = await this.options.ledger.revokeAttestationTypedData({ subject, organization, signer });
      if (recoverTypedDataSigner(payload, signature) === signer) return payload;
    }
    throw new ForbiddenError('the revocation is signed neither by the attesting organization nor the owner');
  }

  private applyRelayed(): Promise<void> {
    return (this.options.applyRelayed ?? this.options.syncChain)();
  }

  private async requireOwnerAdmin(caller: Caller): Promise<void> {
    if (caller.role !== 'ADMIN')
      throw new ForbiddenError('only a node ADMIN may act as the network operator');
    const owner = await this.options.ledger.owner();
    if (owner !== this.options.ledger.relayerAddress.toLowerCase()) {
      throw new ForbiddenError(
        'this node is not the contract owner: the owner (e.g. a multisig) must send this transaction itself',
      );
    }
  }
}

function validate(input: AttestationInput) {
  const subject = normalizeAddress(input.subject, 'subject');
  const organization = normalizeAddress(input.organization, 'organization');
  if (subject === organization) {
    throw new BadUserInputError('an organization cannot attest itself', { field: 'subject' });
  }
  if (!(ATTESTABLE_ROLES as readonly string[]).includes(input.role)) {
    throw new BadUserInputError(`role must be one of ${ATTESTABLE_ROLES.join(', ')}`, { field: 'role' });
  }
  const identifier = input.identifier.trim();
  if (!/^[^|\s]{1,200}\|[^|\s]{1,100}$/.test(identifier)) {
    throw new BadUserInputError(
      'identifier must be FHIR system|value, e.g. http://hl7.org/fhir/sid/us-npi|1234567893',
      {
        field: 'identifier',
      },
    );
  }
  const expiresAt = Math.floor(input.expiresAt.getTime() / 1000);
  const now = Math.floor(Date.now() / 1000);
  if (!Number.isFinite(expiresAt) || expiresAt <= now + 5 || expiresAt > now + MAX_ATTESTATION_SECONDS) {
    throw new BadUserInputError('expiresAt must be in the future and within 5 years', { field: 'expiresAt' });
  }
  return { subject, role: input.role, organization, identifier, expiresAt };
}

function unverified(status: VerificationStatus): Verification {
  return { status, role: null, organization: null, identifier: null, expiresAt: null, txHash: null };
}
