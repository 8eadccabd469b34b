import { ForbiddenError } from '../errors.js';
import type { Caller } from './caller.js';

/** What a caller wants to do to a patient's data (SMART v2 letters c, r, u, d, s plus our own). */
export type ChartAction =
  'create' | 'read' | 'update' | 'delete' | 'search' | 'verify' | 'predict' | 'research' | 'audit' | 'grant';

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
  /** The practitioner's stated reason, for access by break-glass (audited with it). */
  reason?: string | null;
}

/** Why a request was denied, in words the audit entry and the patient's alert are built from. */
export type DenialReason = 'NO_GRANT' | 'PATIENT_ONLY';

/** A denial from {@link Policy.decide}: what the caller is told, and what the patient is alerted of. */
export class AccessDeniedError extends ForbiddenError {
  constructor(
    message: string,
    readonly reasonCode: DenialReason,
  ) {
    super(message);
  }
}

/**
 * The one place that answers "may this caller do this to this patient's data".
 * `decide` has no side effects, so an operation that needs several answers (a Bundle of several
 * types, create then update) asks for each and records the operation once with `record`.
 */
export interface Policy {
  /**
   * Decides one request, records it and resolves with how access was granted.
   * @throws AccessDeniedError (a ForbiddenError)
   */
  authorize(request: AccessRequest): Promise<AccessDecision>;
  /**
   * Decides without writing anything (no audit entry, no alert).
   * @throws AccessDeniedError
   */
  decide(request: AccessRequest): Promise<AccessDecision>;
  /**
   * Records one operation's outcome: an audit entry for access by anyone but the patient, allowed
   * or denied; a denial also alerts the patient.
   */
  record(request: AccessRequest, outcome: AccessDecision | AccessDeniedError): Promise<void>;
}

/**
 * Decides every request of one operation; the first denial is recorded (once) and thrown. The caller
 * records the allowed operation itself, once, when it has all the answers it needs.
 */
export async function decideAll(
  policy: Policy,
  requests: readonly AccessRequest[],
): Promise<AccessDecision[]> {
  const decisions: AccessDecision[] = [];
  for (const request of requests) {
    try {
      decisions.push(await policy.decide(request));
    } catch (error) {
      if (error instanceof AccessDeniedError) await policy.record(request, error);
      throw error;
    }
  }
  return decisions;
}
