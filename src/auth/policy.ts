import { ForbiddenError } from '../errors.js';
import type { Caller } from './caller.js';

/** What a caller wants to do to a patient's data (SMART v2 letters c, r, u, d, s plus our own). */
export type ChartAction =
  'create' | 'read' | 'update' | 'delete' | 'search' | 'verify' | 'predict' | 'audit' | 'grant';

export interface AccessRequest {
  caller: Caller;
  /** Lower-case address of the patient whose chart it is. */
  patient: string;
  action: ChartAction;
  /** FHIR resource type the action touches, when there is one. */
  resourceType?: string;
  recordId?: string;
  purpose?: string;
}

export interface AccessDecision {
  via: 'self' | 'grant' | 'break-glass' | 'role';
  grantId?: string;
}

/**
 * The one place that answers "may this caller do this to this patient's data". `authorize` resolves
 * with how access was granted or throws ForbiddenError; implementations also write the audit entry
 * for every access by anyone but the patient, allowed or denied.
 */
export interface Policy {
  authorize(request: AccessRequest): Promise<AccessDecision>;
}

/** Until consent grants exist: a patient may act on their own chart and nobody else may. */
export class SelfOnlyPolicy implements Policy {
  async authorize({ caller, patient, action }: AccessRequest): Promise<AccessDecision> {
    if (caller.address === patient && caller.role === 'PATIENT') return { via: 'self' };
    throw new ForbiddenError(`not allowed to ${action} records of ${patient}: no grant from the patient`);
  }
}
