import { IsNull, MoreThan, type DataSource } from 'typeorm';
import type { AlertLog } from '../audit/alert-log.js';
import { alertMessage, knownResourceType, type AlertReasonCode } from '../audit/alert-text.js';
import type { AuditLog } from '../audit/audit-log.js';
import { ForbiddenError } from '../errors.js';
import { AccountEntity, GrantEntity } from '../storage/entities/index.js';
import { PATIENT_ONLY, decideAccess, isSelfAccess, type AccessState } from './access-decision.js';
import type { AccessDecision, AccessRequest, Policy } from './policy.js';
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
 * The service boundary of access decisions: reads the state a decision rests on (after catching the
 * grants cache up with the chain), lets `decideAccess` decide, then audits the decision once and alerts
 * the patient on a denial. Every decision about someone else's access is audited.
 */
export class ConsentPolicy implements Policy {
  private readonly parsed = new Map<string, ParsedScopes>();

  constructor(private readonly options: ConsentPolicyOptions) {}

  async authorize(request: AccessRequest): Promise<AccessDecision> {
    if (isSelfAccess(request)) return { via: 'self' };
    const state = PATIENT_ONLY.has(request.action) ? NO_STATE : await this.stateFor(request);
    const outcome = decideAccess(request, state);
    if (!outcome.allowed) {
      await this.recordDenial(request, outcome.reasonCode);
      const resourceType = knownResourceType(request.resourceType);
      throw new ForbiddenError(
        outcome.reasonCode === 'PATIENT_ONLY'
          ? `not allowed: only the patient may ${request.action}`
          : `not allowed: no active grant from the patient covers ${request.action}${resourceType ? ` on ${resourceType}` : ''}`,
      );
    }
    if (outcome.via === 'self') return { via: 'self' };
    const emergency = outcome.via === 'break-glass';
    await this.options.audit.append({
      ...auditFields(request),
      outcome: emergency ? 'EMERGENCY' : 'ALLOWED',
      reason: emergency ? outcome.grant.reason : null,
    });
    return { via: outcome.via, grantId: outcome.grant.id };
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
      if (row.kind === 'BREAK_GLASS' && (await this.options.breakGlassHolds?.(row)))
        breakGlassHolding.add(row.id);
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

  private async recordDenial(request: AccessRequest, reasonCode: AlertReasonCode): Promise<void> {
    // Nobody's chart: recording it would let anyone make the node write rows and pay gas to anchor
    // audit batches for random addresses. The answer is the same, so it tells the caller nothing.
    if (!(await this.isPatient(request.patient))) return;
    // Audit and alert use node-chosen words only: the action (ours) and a type from the FHIR list.
    const resourceType = knownResourceType(request.resourceType);
    const reason = alertMessage({ reasonCode, action: request.action, resourceType });
    await this.options.audit.append({ ...auditFields(request), outcome: 'DENIED', reason });
    await this.options.alerts.record({
      patient: request.patient,
      actor: request.caller.address,
      kind: 'DENIED',
      action: request.action,
      resourceType,
      reasonCode,
      reason,
      at: new Date(),
    });
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
