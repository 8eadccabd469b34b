import type { GrantKind } from '../storage/entities/index.js';
import type { AccessRequest, ChartAction, DenialReason } from './policy.js';
import { scopesAllow, type ParsedScopes } from './scopes.js';

/** A grant as a decision sees it: the caller's, on this chart, as the cache holds it. */
export interface GrantView {
  id: string;
  kind: GrantKind;
  scopes: ParsedScopes;
  expiresAt: Date;
  revokedAt: Date | null;
  /** The practitioner's stated reason (break-glass only). */
  reason: string | null;
}

/** Everything a decision rests on, read before it is made. */
export interface AccessState {
  /** The caller's grants on the patient's chart, in any state. */
  grants: readonly GrantView[];
  /** Open break-glass grants that still count: attested practitioner, patient does not refuse. */
  breakGlassHolding: ReadonlySet<string>;
  now: Date;
}

export type AccessOutcome =
  | { allowed: true; via: 'self' }
  | { allowed: true; via: 'grant' | 'break-glass'; grant: GrantView }
  | { allowed: false; reasonCode: DenialReason };

/** Actions only the patient may take, whatever a grant says. */
export const PATIENT_ONLY: ReadonlySet<ChartAction> = new Set(['grant', 'audit']);

/** Whether a decision needs the caller's grants at all (the patient on their own chart does not). */
export function isSelfAccess(request: AccessRequest): boolean {
  return request.caller.address === request.patient && request.caller.role === 'PATIENT';
}

/**
 * Access by consent, decided from given state only (no reads, no clock, no audit): the patient acts
 * on their own chart; anyone else needs a grant that is not revoked, not expired at `now`, and whose
 * scopes cover the action — the patient's own consent before a break-glass that still holds.
 */
export function decideAccess(request: AccessRequest, state: AccessState): AccessOutcome {
  if (isSelfAccess(request)) return { allowed: true, via: 'self' };
  if (PATIENT_ONLY.has(request.action)) return { allowed: false, reasonCode: 'PATIENT_ONLY' };
  const usable = state.grants.filter(
    (grant) =>
      grant.revokedAt === null &&
      grant.expiresAt.getTime() > state.now.getTime() &&
      scopesAllow(grant.scopes, request.action, request.resourceType),
  );
  const consent = usable.find((grant) => grant.kind === 'CONSENT');
  if (consent) return { allowed: true, via: 'grant', grant: consent };
  const emergency = usable.find(
    (grant) => grant.kind === 'BREAK_GLASS' && state.breakGlassHolding.has(grant.id),
  );
  if (emergency) return { allowed: true, via: 'break-glass', grant: emergency };
  return { allowed: false, reasonCode: 'NO_GRANT' };
}
