import { timeOfBlock, type BlockTime } from '../ledger/block-time.js';
import { normalizeAddress } from '../ledger/address.js';
import type { AttestationService } from '../auth/attestation-service.js';
import type { Caller } from '../auth/caller.js';
import type { AlertLog } from '../audit/alert-log.js';
import type { AuditLog } from '../audit/audit-log.js';
import { STATEMENT_MAX, STATEMENT_MIN, practitionerStatement } from '../audit/alert-text.js';
import {
  BadUserInputError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  RateLimitedError,
} from '../errors.js';
import type {
  BreakGlassEndedEvent,
  BreakGlassEvent,
  BreakGlassPolicySetEvent,
} from '../ledger/chain-events.js';
import type { Ledger } from '../ledger/chain-client.js';
import { relayedToContract } from '../ledger/contract-reverts.js';
import type { AccountStore } from '../storage/account-store.js';
import type { BreakGlassStore } from '../storage/break-glass-store.js';
import type { BreakGlassPolicyEntity, GrantEntity } from '../storage/entities/index.js';

/** Break-glass access lasts a fixed, short time and only reads. */
export const BREAK_GLASS_SECONDS = 3600;
export const BREAK_GLASS_SCOPES = 'patient/*.rs';
const DAY_SECONDS = 24 * 3600;

export interface BreakGlassServiceOptions {
  breakGlass: BreakGlassStore;
  accounts: AccountStore;
  ledger: Ledger;
  audit: AuditLog;
  alerts: AlertLog;
  attestations: AttestationService;
  /** Break-glass accesses one practitioner may open in any 24 hours, across every node. */
  dailyLimit: number;
  /** Unix time of a block: an ending is dated by its block, the same on every node and after a rebuild. */
  blockTime?: BlockTime;
}

/** The id a break-glass grant has in the cache: `bg-<the chain's break-glass id>`. */
export function breakGlassGrantId(breakGlassId: string): string {
  return `bg-${breakGlassId}`;
}

/**
 * Emergency access with bounds the patient controls. Only an attested practitioner; one open per
 * practitioner and patient (the contract enforces it on every node); a daily cap per practitioner;
 * the patient can end it at once and can refuse break-glass by a signed policy. Every break-glass is
 * on chain, so every node grants, ends and lists it the same way.
 */
export class BreakGlassService {
  constructor(private readonly options: BreakGlassServiceOptions) {}

  async breakGlass(caller: Caller, patientInput: string, reasonInput: string): Promise<GrantEntity> {
    const patient = normalizeAddress(patientInput, 'patient');
    // The patient reads these words as the practitioner's: one line of plain text, nothing hidden.
    const reason = practitionerStatement(reasonInput);
    if (reason === null) {
      throw new BadUserInputError(
        `reason must be ${STATEMENT_MIN}–${STATEMENT_MAX} characters of plain text (no control, zero-width or direction characters): say why emergency access is needed`,
        { field: 'reason' },
      );
    }
    await this.options.attestations.requireAttested(caller, 'PRACTITIONER');
    await this.requirePatient(patient);
    if (await this.refuses(patient)) {
      throw new ForbiddenError('the patient refuses break-glass access (a signed policy on chain)');
    }
    const open = await this.openFor(patient, caller.address);
    if (open) throw new ConflictError(`a break-glass access to this chart is already open: ${open.id}`);
    await this.requireUnderDailyLimit(caller.address);

    const expiresAt = Math.floor(Date.now() / 1000) + BREAK_GLASS_SECONDS;
    const anchor = await relayedToContract(() =>
      this.options.ledger.recordBreakGlass({ patient, practitioner: caller.address, reason, expiresAt }),
    );
    const grant = await this.saveGrant({
      breakGlassId: anchor.breakGlassId,
      patient,
      practitioner: caller.address,
      expiresAt,
      reason,
      txHash: anchor.txHash,
      blockNumber: anchor.blockNumber,
    });
    const verification = await this.options.attestations.verificationOf(caller.address, 'PRACTITIONER');
    await this.options.audit.append({
      patient,
      actor: caller.address,
      action: 'break-glass',
      outcome: 'EMERGENCY',
      reason,
    });
    await this.options.alerts.record({
      patient,
      actor: caller.address,
      kind: 'BREAK_GLASS',
      action: 'break-glass',
      resourceType: null,
      reasonCode: 'PRACTITIONER_STATEMENT',
      reason,
      // The time the chain event implies (see applyBreakGlass), so every copy of the alert agrees.
      at: new Date((expiresAt - BREAK_GLASS_SECONDS) * 1000),
      breakGlassId: anchor.breakGlassId,
      organization: verification.organization,
      txHash: anchor.txHash,
    });
    return grant;
  }

  /** The patient (or the practitioner, when done) ends a break-glass access; every node follows. */
  async endBreakGlass(caller: Caller, grantId: string): Promise<GrantEntity> {
    const grant = await this.options.breakGlass.grant(grantId);
    if (!grant || !(caller.address === grant.patient || caller.address === grant.grantee)) {
      throw new NotFoundError(`no break-glass access ${grantId} on a chart of yours`);
    }
    if (grant.revokedAt || grant.expiresAt.getTime() <= Date.now()) return grant;
    const chainId = grantId.replace(/^bg-/, '');
    if (!/^\d{1,78}$/.test(chainId)) {
      throw new BadUserInputError('this break-glass access predates on-chain ids and cannot be ended');
    }
    const tx = await relayedToContract(() => this.options.ledger.endBreakGlass(chainId));
    const endedAt = await timeOfBlock(this.options.blockTime, tx.blockNumber, { orNow: true });
    grant.revokedAt = endedAt;
    grant.revokedTx = tx.txHash;
    await this.options.breakGlass.saveEnded(grant);
    await this.options.alerts.record({
      patient: grant.patient,
      // The practitioner whose access ended, as the chain's BreakGlassEnded names it (not who ended
      // it): every node, and a rebuilt cache, list the same alert.
      actor: grant.grantee,
      kind: 'BREAK_GLASS_ENDED',
      action: 'end-break-glass',
      resourceType: null,
      reasonCode: 'BREAK_GLASS_ENDED',
      reason: null,
      at: endedAt,
      breakGlassId: chainId,
      txHash: tx.txHash,
    });
    return grant;
  }

  breakGlassPolicyTypedData(patientInput: string, refuse: boolean): Promise<unknown> {
    const patient = normalizeAddress(patientInput, 'patient');
    return this.options.ledger.breakGlassPolicyTypedData({ patient, refuse });
  }

  /** Relays the patient's signed policy; the contract checks the signature. */
  async setBreakGlassPolicy(
    patientInput: string,
    refuse: boolean,
    signature: string,
  ): Promise<BreakGlassPolicyEntity> {
    const patient = normalizeAddress(patientInput, 'patient');
    const nonce = await this.options.ledger.patientNonce(patient);
    const tx = await relayedToContract(() =>
      this.options.ledger.relayBreakGlassPolicy({ patient, refuse, nonce, signature }),
    );
    return this.options.breakGlass.savePolicy({
      patient,
      refuse,
      txHash: tx.txHash,
      blockNumber: tx.blockNumber,
    });
  }

  async policyOf(patient: string): Promise<{ patient: string; refuse: boolean; txHash: string | null }> {
    const row = await this.options.breakGlass.policy(patient);
    return { patient, refuse: row?.refuse ?? false, txHash: row?.txHash ?? null };
  }

  /** Cache only (decisions sync first): whether the patient refuses break-glass. */
  async refuses(patient: string): Promise<boolean> {
    return (await this.policyOf(patient)).refuse;
  }

  async applyBreakGlass(event: BreakGlassEvent): Promise<void> {
    const patient = event.patient.toLowerCase();
    const practitioner = event.practitioner.toLowerCase();
    await this.saveGrant({
      breakGlassId: event.breakGlassId,
      patient,
      practitioner,
      expiresAt: event.expiresAt,
      reason: null,
      txHash: event.txHash,
      blockNumber: event.blockNumber,
    });
    await this.options.alerts.record({
      patient,
      actor: practitioner,
      kind: 'BREAK_GLASS',
      action: 'break-glass',
      resourceType: null,
      reasonCode: 'PRACTITIONER_STATEMENT',
      reason: null,
      // Opened an hour before it ends (the node that opened it set the expiry so); a rebuilt cache
      // lists it at that time, not at the time it was indexed.
      at: new Date((event.expiresAt - BREAK_GLASS_SECONDS) * 1000),
      breakGlassId: event.breakGlassId,
      organization: event.organization.toLowerCase(),
      txHash: event.txHash,
    });
  }

  async applyBreakGlassEnded(event: BreakGlassEndedEvent): Promise<void> {
    const endedAt = await timeOfBlock(this.options.blockTime, event.blockNumber);
    // Before its BreakGlass event (that one retried from quarantine): an ended row the late event keeps.
    await this.options.breakGlass.adoptEnded({
      id: breakGlassGrantId(event.breakGlassId),
      patient: event.patient.toLowerCase(),
      practitioner: event.practitioner.toLowerCase(),
      scopes: BREAK_GLASS_SCOPES,
      txHash: event.txHash,
      endedAt,
    });
    await this.options.alerts.record({
      patient: event.patient.toLowerCase(),
      actor: event.practitioner.toLowerCase(),
      kind: 'BREAK_GLASS_ENDED',
      action: 'end-break-glass',
      resourceType: null,
      reasonCode: 'BREAK_GLASS_ENDED',
      reason: null,
      at: endedAt,
      breakGlassId: event.breakGlassId,
      txHash: event.txHash,
    });
  }

  async applyBreakGlassPolicy(event: BreakGlassPolicySetEvent): Promise<void> {
    await this.options.breakGlass.savePolicy({
      patient: event.patient.toLowerCase(),
      refuse: event.refuse,
      txHash: event.txHash,
      blockNumber: event.blockNumber,
    });
  }

  /** Writes the grant row; a row already there (event and write-through) keeps its reason. */
  private async saveGrant(fields: {
    breakGlassId: string;
    patient: string;
    practitioner: string;
    expiresAt: number;
    reason: string | null;
    txHash: string;
    blockNumber: number;
  }): Promise<GrantEntity> {
    return this.options.breakGlass.save({
      id: breakGlassGrantId(fields.breakGlassId),
      patient: fields.patient,
      practitioner: fields.practitioner,
      scopes: BREAK_GLASS_SCOPES,
      expiresAt: new Date(fields.expiresAt * 1000),
      reason: fields.reason,
      txHash: fields.txHash,
      blockNumber: fields.blockNumber,
    });
  }

  /** Cache only: `breakGlass` has caught up with the chain in `requireAttested` just before. */
  private async openFor(patient: string, practitioner: string): Promise<GrantEntity | null> {
    return this.options.breakGlass.openFor(patient, practitioner);
  }

  /** Counts break-glass opened (expiry minus its hour) in the last 24 hours, on every node. */
  private async requireUnderDailyLimit(practitioner: string): Promise<void> {
    // Opened in the last 24 hours means expiring later than 23 hours ago.
    const opened = await this.options.breakGlass.expiringWithin(
      practitioner,
      DAY_SECONDS - BREAK_GLASS_SECONDS,
    );
    if (opened.count < this.options.dailyLimit) return;
    const oldest = opened.earliest!;
    const retryAfter = Math.max(
      1,
      Math.ceil((oldest.getTime() + (DAY_SECONDS - BREAK_GLASS_SECONDS) * 1000 - Date.now()) / 1000),
    );
    throw new RateLimitedError(
      `at most ${this.options.dailyLimit} break-glass accesses per practitioner in 24 hours`,
      retryAfter,
    );
  }

  private async requirePatient(patient: string): Promise<void> {
    const account = await this.options.accounts.find(patient);
    if (!account || account.role !== 'PATIENT') {
      throw new NotFoundError(`no patient account is registered for ${patient}`);
    }
  }
}
