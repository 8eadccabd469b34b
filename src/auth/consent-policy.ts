import { IsNull, MoreThan, type DataSource } from 'typeorm';
import type { AlertLog } from '../audit/alert-log.js';
import { alertMessage, knownResourceType, type AlertReasonCode } from '../audit/alert-text.js';
import type { AuditLog } from '../audit/audit-log.js';
import { AccountEntity, GrantEntity } from '../storage/entities/index.js';
import { PATIENT_ONLY, decideAccess, isSelfAccess, type AccessState } from './access-decision.js';
import { AccessDeniedError, type AccessDecision, type AccessRequest, type Policy } from './policy.js';
import { parseScopes, type ParsedScopes } from './scopes.js';

export interface ConsentPolicyOptions {
  dataSource: DataSource;
  audit: AuditLog;
  alerts: AlertLog;
  /** Brings the grants cache up to the chain head (revocations relayed by other nodes). */
  syncGrants?: () => Promise<void>;
  /**
   * Whether an open break-glass still counts: the practitioner's attestation is valid and the patient
   * does not refuse break-glass (cache state, already synced).
   */
  breakGlassHolds?: (grant: GrantEntity) => Promise<boolean>;
}

const NO_STATE: AccessState = { grants: [], breakGlassHolding: new Set(), now: new Date(0) };

/**
 * Access by consent at the service boundary: `decide` reads the state a decision rests on (after
 * catching the grants cache up with the chain) and lets the pure `decideAccess` decide; `record`
 * audits an operation once and alerts the patient of a denial; `authorize` is both, for operations
 * that ask once. Every decision about someone else's access is audited.
 */
export class ConsentPolicy implements Policy {
  private readonly parsed = new Map<string, ParsedScopes>();

  constructor(private readonly options: ConsentPolicyOptions) {}

  async authorize(request: AccessRequest): Promise<AccessDecision> {
    let decision: AccessDecision;
    try {
      decision = await this.decide(request);
    } catch (error) {
      if (error instanceof AccessDeniedError) await this.record(request, error);
      throw error;
    }
    await this.record(request, decision);
    return decision;
  }

  async decide(request: AccessRequest): Promise<AccessDecision> {
    if (isSelfAccess(request)) return { via: 'self' };
    const state = PATIENT_ONLY.has(request.action) ? NO_STATE : await this.stateFor(request);
    const outcome = decideAccess(request, state);
    if (!outcome.allowed) {
      const resourceType = knownResourceType(request.resourceType);
      throw outcome.reasonCode === 'PATIENT_ONLY'
        ? new AccessDeniedError(`not allowed: only the patient may ${request.action}`, 'PATIENT_ONLY')
        : new AccessDeniedError(
            `not allowed: no active grant from the patient covers ${request.action}${resourceType ? ` on ${resourceType}` : ''}`,
            'NO_GRANT',
          );
    }
    if (outcome.via === 'self') return { via: 'self' };
    return {
      via: outcome.via,
      grantId: outcome.grant.id,
      reason: outcome.via === 'break-glass' ? outcome.grant.reason : null,
    };
  }

  async record(request: AccessRequest, outcome: AccessDecision | AccessDeniedError): Promise<void> {
    const { caller, patient, action } = request;
    if (!(outcome instanceof AccessDeniedError)) {
      if (outcome.via === 'self') return;
      await this.options.audit.append({
        ...auditFields(request),
        outcome: outcome.via === 'break-glass' ? 'EMERGENCY' : 'ALLOWED',
        reason: outcome.via === 'break-glass' ? (outcome.reason ?? null) : null,
      });
      return;
    }
    // Nobody's chart: recording it would let anyone make the node write rows and pay gas to anchor
    // audit batches for random addresses. The answer is the same, so it tells the caller nothing.
    if (!(await this.isPatient(patient))) return;
    // Audit and alert use node-chosen words only: the action (ours) and a type from the FHIR list.
    const reasonCode: AlertReasonCode = outcome.reasonCode;
    const resourceType = knownResourceType(request.resourceType);
    const reason = alertMessage({ reasonCode, action, resourceType });
    await this.options.audit.append({ ...auditFields(request), outcome: 'DENIED', reason });
    await this.options.alerts.record({
      patient,
      actor: caller.address,
      kind: 'DENIED',
      action,
      resourceType,
      reasonCode,
      reason,
      at: new Date(),
    });
  }

  /** The caller's live grants on the chart, read once the cache has caught up with the chain. */
  private async stateFor(request: AccessRequest): Promise<AccessState> {
    await this.options.syncGrants?.();
    const now = new Date();
    const rows = await this.options.dataSource.getRepository(GrantEntity).find({
      where: {
        patient: request.patient,
        grantee: request.caller.address,
        revokedAt: IsNull(),
        expiresAt: MoreThan(now),
      },
    });
    const breakGlassHolding = new Set<string>();
    for (const row of rows) {
      if (row.kind === 'BREAK_GLASS' && (await this.options.breakGlassHolds?.(row))) {
        breakGlassHolding.add(row.id);
      }
    }
    const grants = rows.map((row) => ({
      id: row.id,
      kind: row.kind,
      scopes: this.scopesOf(row.scopes),
      expiresAt: row.expiresAt,
      revokedAt: row.revokedAt,
      reason: row.reason,
    }));
    return { grants, breakGlassHolding, now };
  }

  private async isPatient(address: string): Promise<boolean> {
    return this.options.dataSource
      .getRepository(AccountEntity)
      .exists({ where: { address, role: 'PATIENT' } });
  }

  private scopesOf(text: string): ParsedScopes {
    let parsed = this.parsed.get(text);
    if (!parsed) {
      parsed = parseScopes(text.split(' '));
      this.parsed.set(text, parsed);
    }
    return parsed;
  }
}

function auditFields(request: AccessRequest) {
  return {
    patient: request.patient,
    actor: request.caller.address,
    action: request.action,
    resourceType: knownResourceType(request.resourceType),
    recordId: request.recordId ?? null,
    purpose: request.purpose ?? null,
  };
}
