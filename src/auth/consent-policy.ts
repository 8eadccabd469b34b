import { IsNull, MoreThan, type DataSource } from 'typeorm';
import type { AlertLog } from '../audit/alert-log.js';
import { alertMessage, knownResourceType, type AlertReasonCode } from '../audit/alert-text.js';
import type { AuditLog } from '../audit/audit-log.js';
import { AccountEntity, GrantEntity } from '../storage/entities/index.js';
import {
  AccessDeniedError,
  type AccessDecision,
  type AccessRequest,
  type ChartAction,
  type Policy,
} from './policy.js';
import { parseScopes, scopesAllow, type ParsedScopes } from './scopes.js';

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

/** Actions only the patient may take, whatever a grant says. */
const PATIENT_ONLY: ReadonlySet<ChartAction> = new Set(['grant', 'audit']);

/**
 * Access by consent: the patient acts on their own chart; anyone else needs an active grant (not
 * revoked, not expired by the node's clock) whose scopes cover the action, or a break-glass grant.
 * `authorize` audits every decision about someone else's access and alerts the patient of denials;
 * `decide` only decides, for operations that record themselves once (see {@link decideAll}).
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
    const { caller, patient, action } = request;
    if (caller.address === patient && caller.role === 'PATIENT') return { via: 'self' };

    const grant = PATIENT_ONLY.has(action) ? undefined : await this.coveringGrant(request);
    if (!grant) {
      const resourceType = knownResourceType(request.resourceType);
      throw PATIENT_ONLY.has(action)
        ? new AccessDeniedError(`not allowed: only the patient may ${action}`, 'PATIENT_ONLY')
        : new AccessDeniedError(
            `not allowed: no active grant from the patient covers ${action}${resourceType ? ` on ${resourceType}` : ''}`,
            'NO_GRANT',
          );
    }
    const emergency = grant.kind === 'BREAK_GLASS';
    return {
      via: emergency ? 'break-glass' : 'grant',
      grantId: grant.id,
      reason: emergency ? grant.reason : null,
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
    // Audit and alert use node-chosen words only: the action (ours) and a type from the FHIR list.
    const reasonCode: AlertReasonCode = outcome.reasonCode;
    const resourceType = knownResourceType(request.resourceType);
    const reason = alertMessage({ reasonCode, action, resourceType });
    // Nobody's chart: recording it would let anyone make the node write rows and pay gas to anchor
    // audit batches for random addresses. The answer is the same, so it tells the caller nothing.
    if (!(await this.isPatient(patient))) return;
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

  private async coveringGrant(request: AccessRequest): Promise<GrantEntity | undefined> {
    await this.options.syncGrants?.();
    const grants = await this.options.dataSource.getRepository(GrantEntity).find({
      where: {
        patient: request.patient,
        grantee: request.caller.address,
        revokedAt: IsNull(),
        expiresAt: MoreThan(new Date()),
      },
      order: { kind: 'DESC' }, // CONSENT before BREAK_GLASS: prefer the patient's own consent
    });
    for (const grant of grants) {
      if (!scopesAllow(this.scopesOf(grant.scopes), request.action, request.resourceType)) continue;
      if (grant.kind === 'BREAK_GLASS' && !(await this.options.breakGlassHolds?.(grant))) continue;
      return grant;
    }
    return undefined;
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
