import type { AlertLog } from '../audit/alert-log.js';
import { alertMessage, knownResourceType, type AlertReasonCode } from '../audit/alert-text.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { OperationScope } from '../operation-scope.js';
import type { StageTimer } from '../records/stage-timer.js';
import type { AccountStore } from '../storage/account-store.js';
import { PATIENT_ONLY, decideAccess, isSelfAccess, type AccessState } from './access-decision.js';
import type { AccessStateSource } from './access-state.js';
import { AccessDeniedError, type AccessDecision, type AccessRequest, type Policy } from './policy.js';

export interface ConsentPolicyOptions {
  /** The grants a decision rests on, as of the operation's catch-up with the chain. */
  state: AccessStateSource;
  accounts: Pick<AccountStore, 'isPatient'>;
  audit: AuditLog;
  alerts: AlertLog;
  /** Records the same access once per operation (aliases, a resolver asking twice). */
  operations?: OperationScope;
  /** Benchmarks see the `policy` stage (decision and audit) here. */
  timer?: StageTimer;
}

const NO_STATE: AccessState = { grants: [], breakGlassHolding: new Set(), now: new Date(0) };

/**
 * Access by consent at the service boundary: `decide` takes the state a decision rests on from its
 * source (which the operation has caught up with the chain once) and lets the pure `decideAccess`
 * decide; `record` audits an access once per operation and alerts the patient of a denial;
 * `authorize` is both. Every decision about someone else's access is audited.
 */
export class ConsentPolicy implements Policy {
  constructor(private readonly options: ConsentPolicyOptions) {}

  async authorize(request: AccessRequest): Promise<AccessDecision> {
    const timer = this.options.timer;
    return timer?.enabled
      ? timer.timeAsync('policy', () => this.authorizeNow(request))
      : this.authorizeNow(request);
  }

  private async authorizeNow(request: AccessRequest): Promise<AccessDecision> {
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
    const state = PATIENT_ONLY.has(request.action) ? NO_STATE : await this.options.state.stateFor(request);
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
    if (!(outcome instanceof AccessDeniedError) && outcome.via === 'self') return;
    const key = JSON.stringify([
      auditFields(request),
      outcome instanceof AccessDeniedError ? ['DENIED', outcome.reasonCode] : [outcome.via, outcome.grantId],
    ]);
    const write = () => this.recordNow(request, outcome);
    await (this.options.operations ? this.options.operations.once(`audit:${key}`, write) : write());
  }

  private async recordNow(
    request: AccessRequest,
    outcome: AccessDecision | AccessDeniedError,
  ): Promise<void> {
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

  private async isPatient(address: string): Promise<boolean> {
    return this.options.accounts.isPatient(address);
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
