import { decideAccess, type AccessState, type GrantView } from '../../src/auth/access-decision.js';
import type { Caller } from '../../src/auth/caller.js';
import type { AccessRequest, ChartAction } from '../../src/auth/policy.js';
import { parseScopes } from '../../src/auth/scopes.js';

const patient = '0x' + 'aa'.repeat(20);
const other = '0x' + 'bb'.repeat(20);
const now = new Date('2026-06-01T12:00:00Z');
const later = new Date('2026-06-02T12:00:00Z');
const earlier = new Date('2026-05-31T12:00:00Z');

const caller = (address: string, role: Caller['role']): Caller => ({ address, role, sessionId: 's' });

function grant(
  id: string,
  kind: GrantView['kind'],
  scopes: string,
  changes: Partial<GrantView> = {},
): GrantView {
  return {
    id,
    kind,
    scopes: parseScopes(scopes.split(' ')),
    expiresAt: later,
    revokedAt: null,
    reason: null,
    ...changes,
  };
}

function state(grants: GrantView[], holding: string[] = []): AccessState {
  return { grants, breakGlassHolding: new Set(holding), now };
}

function decide(who: Caller, action: ChartAction, resourceType: string | undefined, given: AccessState) {
  const request: AccessRequest = { caller: who, patient, action, resourceType };
  const outcome = decideAccess(request, given);
  if (!outcome.allowed) return `denied:${outcome.reasonCode}`;
  return outcome.via === 'self' ? 'self' : `${outcome.via}:${outcome.grant.id}`;
}

const practitioner = caller(other, 'PRACTITIONER');
const readObservations = grant('g-obs', 'CONSENT', 'patient/Observation.rs');
const everything = grant('g-all', 'CONSENT', 'patient/*.cruds predict');
const breakGlass = grant('bg-1', 'BREAK_GLASS', 'patient/*.rs', { reason: 'unconscious' });

/** [case, caller, action, resource type, state, expected] — written from DESIGN.md's "Who may do what". */
const matrix: [string, Caller, ChartAction, string | undefined, AccessState, string][] = [
  ['the patient on their own chart', caller(patient, 'PATIENT'), 'read', 'Observation', state([]), 'self'],
  ['the patient may grant and audit', caller(patient, 'PATIENT'), 'grant', undefined, state([]), 'self'],
  [
    "the patient's address with another role is not the patient",
    caller(patient, 'PRACTITIONER'),
    'read',
    'Observation',
    state([]),
    'denied:NO_GRANT',
  ],
  ['no grant', practitioner, 'read', 'Observation', state([]), 'denied:NO_GRANT'],
  [
    'a grant covering the type',
    practitioner,
    'read',
    'Observation',
    state([readObservations]),
    'grant:g-obs',
  ],
  [
    'a grant for another type',
    practitioner,
    'read',
    'Condition',
    state([readObservations]),
    'denied:NO_GRANT',
  ],
  [
    'a read grant does not allow writing',
    practitioner,
    'create',
    'Observation',
    state([readObservations]),
    'denied:NO_GRANT',
  ],
  [
    'search needs a wildcard type when no type is named',
    practitioner,
    'search',
    undefined,
    state([readObservations]),
    'denied:NO_GRANT',
  ],
  [
    'a wildcard grant allows search of every type',
    practitioner,
    'search',
    undefined,
    state([everything]),
    'grant:g-all',
  ],
  [
    'predict needs the predict scope',
    practitioner,
    'predict',
    undefined,
    state([readObservations]),
    'denied:NO_GRANT',
  ],
  ['predict with the predict scope', practitioner, 'predict', undefined, state([everything]), 'grant:g-all'],
  [
    'a revoked grant',
    practitioner,
    'read',
    'Observation',
    state([{ ...readObservations, revokedAt: earlier }]),
    'denied:NO_GRANT',
  ],
  [
    'an expired grant',
    practitioner,
    'read',
    'Observation',
    state([{ ...readObservations, expiresAt: earlier }]),
    'denied:NO_GRANT',
  ],
  [
    'a grant expiring this very instant',
    practitioner,
    'read',
    'Observation',
    state([{ ...readObservations, expiresAt: now }]),
    'denied:NO_GRANT',
  ],
  [
    'only the patient may grant, whatever a grant says',
    practitioner,
    'grant',
    undefined,
    state([everything]),
    'denied:PATIENT_ONLY',
  ],
  [
    'only the patient may read the audit trail',
    practitioner,
    'audit',
    undefined,
    state([everything]),
    'denied:PATIENT_ONLY',
  ],
  [
    'a break-glass that holds',
    practitioner,
    'read',
    'Observation',
    state([breakGlass], ['bg-1']),
    'break-glass:bg-1',
  ],
  [
    'a break-glass whose attestation or policy no longer holds',
    practitioner,
    'read',
    'Observation',
    state([breakGlass]),
    'denied:NO_GRANT',
  ],
  [
    'break-glass reads, never writes',
    practitioner,
    'update',
    'Observation',
    state([breakGlass], ['bg-1']),
    'denied:NO_GRANT',
  ],
  [
    'consent is preferred to break-glass',
    practitioner,
    'read',
    'Observation',
    state([breakGlass, readObservations], ['bg-1']),
    'grant:g-obs',
  ],
  [
    'break-glass covers what consent does not',
    practitioner,
    'read',
    'Condition',
    state([readObservations, breakGlass], ['bg-1']),
    'break-glass:bg-1',
  ],
];

describe('decideAccess (no HTTP, no database)', () => {
  it.each(matrix)('%s', (_case, who, action, resourceType, given, expected) => {
    expect(decide(who, action, resourceType, given)).toBe(expected);
  });
});
