import { canonicalScopes, parseScopes, scopesAllow } from '../../src/auth/scopes.js';

describe('SMART v2 scopes', () => {
  it('allows exactly the letters granted, per resource type', () => {
    const scopes = parseScopes(['patient/Observation.rs', 'patient/Condition.c']);
    expect(scopesAllow(scopes, 'read', 'Observation')).toBe(true);
    expect(scopesAllow(scopes, 'search', 'Observation')).toBe(true);
    expect(scopesAllow(scopes, 'create', 'Observation')).toBe(false);
    expect(scopesAllow(scopes, 'create', 'Condition')).toBe(true);
    expect(scopesAllow(scopes, 'read', 'Condition')).toBe(false);
    expect(scopesAllow(scopes, 'read', 'Patient')).toBe(false);
    expect(scopesAllow(scopes, 'predict')).toBe(false);
    expect(scopesAllow(scopes, 'audit')).toBe(false);
  });

  it('understands wildcards, v1 read/write and predict', () => {
    expect(scopesAllow(parseScopes(['patient/*.cruds']), 'update', 'Immunization')).toBe(true);
    expect(scopesAllow(parseScopes(['patient/*.r']), 'search', 'Immunization')).toBe(false);
    expect(scopesAllow(parseScopes(['patient/Observation.read']), 'search', 'Observation')).toBe(true);
    expect(scopesAllow(parseScopes(['patient/Observation.write']), 'create', 'Observation')).toBe(true);
    expect(scopesAllow(parseScopes(['patient/Observation.write']), 'read', 'Observation')).toBe(false);
    expect(scopesAllow(parseScopes(['predict']), 'predict')).toBe(true);
  });

  it('research allows only research: no read, search, predict or write on any type', () => {
    const research = parseScopes(['research']);
    expect(scopesAllow(research, 'research')).toBe(true);
    for (const action of ['read', 'search', 'create', 'update', 'verify', 'predict'] as const) {
      expect(scopesAllow(research, action, 'Condition')).toBe(false);
      expect(scopesAllow(research, action)).toBe(false);
    }
    expect(scopesAllow(parseScopes(['patient/*.cruds', 'predict']), 'research')).toBe(false);
    expect(canonicalScopes(['research', 'predict'])).toBe('predict research');
    expect(() => parseScopes(['Research'])).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT' }));
  });

  it('rejects malformed scopes with BAD_USER_INPUT', () => {
    for (const bad of [
      [],
      ['Observation.rs'],
      ['patient/Observation.'],
      ['patient/Observation.x'],
      ['patient/Obs ervation.r'],
      ['system/*.*x'],
    ]) {
      expect(() => parseScopes(bad)).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT' }));
    }
  });

  it('canonicalizes the signed text', () => {
    expect(canonicalScopes(['predict', 'patient/Observation.rs', 'predict'])).toBe(
      'patient/Observation.rs predict',
    );
  });
});
