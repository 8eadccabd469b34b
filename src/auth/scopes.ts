import { BadUserInputError } from '../errors.js';
import type { ChartAction } from './policy.js';

/**
 * SMART App Launch v2 resource scopes (`patient/Observation.rs`, `patient/*.cruds`), the v1 forms
 * (`patient/Observation.read`, `.write`, `.*`), `predict`, and `research` (the patient's chart may be
 * counted in an organization's cohort statistics; it opens no record). Only the patient context is
 * meaningful for a grant: it is always about one patient's chart.
 */
export interface Scope {
  resourceType: string; // '*' for every type
  letters: ReadonlySet<ScopeLetter>;
}

export type ScopeLetter = 'c' | 'r' | 'u' | 'd' | 's';

export interface ParsedScopes {
  resources: Scope[];
  predict: boolean;
  research: boolean;
}

const RESOURCE_SCOPE = /^(patient|user)\/(\*|[A-Z][A-Za-z]{1,63})\.(\*|read|write|c?r?u?d?s?)$/;
const LETTER_ACTIONS: Partial<Record<ChartAction, ScopeLetter>> = {
  create: 'c',
  read: 'r',
  verify: 'r',
  update: 'u',
  delete: 'd',
  search: 's',
};

export const MAX_SCOPES = 50;

/** Parses a list of scope strings; throws BAD_USER_INPUT naming the first one that is not valid. */
export function parseScopes(scopes: readonly string[]): ParsedScopes {
  if (scopes.length === 0 || scopes.length > MAX_SCOPES) {
    throw new BadUserInputError(`a grant needs 1 to ${MAX_SCOPES} scopes`, { field: 'scopes' });
  }
  const parsed: ParsedScopes = { resources: [], predict: false, research: false };
  for (const scope of scopes) {
    if (scope === 'predict' || scope === 'research') {
      parsed[scope] = true;
      continue;
    }
    const match = RESOURCE_SCOPE.exec(scope);
    if (!match || match[3] === '') {
      throw new BadUserInputError(
        `scope "${scope}" is not a SMART v2 resource scope (e.g. patient/Observation.rs), "predict" or "research"`,
        { field: 'scopes', scope },
      );
    }
    parsed.resources.push({ resourceType: match[2], letters: lettersOf(match[3]) });
  }
  return parsed;
}

function lettersOf(permissions: string): Set<ScopeLetter> {
  if (permissions === '*') return new Set(['c', 'r', 'u', 'd', 's']);
  if (permissions === 'read') return new Set(['r', 's']);
  if (permissions === 'write') return new Set(['c', 'u', 'd']);
  return new Set(permissions.split('') as ScopeLetter[]);
}

/** Canonical text of a scope list, as signed in the grant: sorted, deduplicated, space-separated. */
export function canonicalScopes(scopes: readonly string[]): string {
  parseScopes(scopes);
  return [...new Set(scopes)].sort().join(' ');
}

/** Whether the scopes allow `action` on `resourceType` (undefined: any type, as for a search). */
export function scopesAllow(scopes: ParsedScopes, action: ChartAction, resourceType?: string): boolean {
  if (action === 'predict') return scopes.predict;
  if (action === 'research') return scopes.research;
  const letter = LETTER_ACTIONS[action];
  if (!letter) return false;
  return scopes.resources.some(
    (scope) =>
      scope.letters.has(letter) &&
      (scope.resourceType === '*' || (resourceType !== undefined && scope.resourceType === resourceType)),
  );
}

/** Whether the scopes let the grantee read records of this type (their keys are then wrapped for them). */
export function scopesCoverReading(scopes: ParsedScopes, resourceType: string): boolean {
  return scopesAllow(scopes, 'read', resourceType);
}
