import {
  continuityProblem,
  entitlementProblem,
  type GrantAtBlock,
} from '../../src/records/version-checks.js';

const held = { patient: '0xaa', resourceType: 'Observation', version: 2, cid: 'bafy-v2' };
const next: { patient: string; resourceType: string; version: number; previousCid: string | null } = {
  patient: '0xaa',
  resourceType: 'Observation',
  version: 3,
  previousCid: 'bafy-v2',
};

describe('continuity of a record version', () => {
  it('accepts the next version and a fresh record, and names what breaks', () => {
    expect(continuityProblem(held, next)).toBeNull();
    expect(continuityProblem(null, { ...next, version: 1, previousCid: null })).toBeNull();
    const reason = (h: typeof held | null, c: typeof next) => continuityProblem(h, c)?.reason;
    expect(reason(held, { ...next, version: 4 })).toBe('VERSION_GAP');
    expect(reason(null, { ...next, version: 2 })).toBe('VERSION_GAP');
    expect(reason(held, { ...next, previousCid: 'bafy-v1' })).toBe('PREVIOUS_CID_MISMATCH');
    expect(reason(null, { ...next, version: 1 })).toBe('PREVIOUS_CID_MISMATCH');
    expect(reason(held, { ...next, patient: '0xbb' })).toBe('PATIENT_CHANGED');
    expect(reason(held, { ...next, resourceType: 'Condition' })).toBe('TYPE_CHANGED');
    expect(reason(held, { ...next, version: 1, previousCid: null })).toBe('RECORD_ID_REUSED');
    expect(reason(held, { ...next, version: 2, patient: '0xbb' })).toBe('RECORD_ID_REUSED');
    expect(reason(held, { ...next, version: 2 })).toBe('VERSION_CONFLICT');
  });
});

describe("an author's right at the anchor block", () => {
  const grant: GrantAtBlock = {
    scopes: 'patient/Observation.cu',
    createdBlock: 10,
    revokedAt: null,
    revokedBlock: null,
    expiresAt: new Date(2_000_000 * 1000),
  };
  const judge = (grants: GrantAtBlock[], over: Partial<Parameters<typeof entitlementProblem>[0]> = {}) =>
    entitlementProblem({
      author: '0xgrantee',
      patient: '0xpatient',
      resourceType: 'Observation',
      version: 2,
      anchorBlock: 20,
      blockTime: 1_999_999,
      grants,
      ...over,
    })?.reason ?? null;

  it('holds for the patient always, and for a grantee only while the grant held', () => {
    expect(judge([], { author: '0xpatient' })).toBeNull();
    expect(judge([grant])).toBeNull();
    expect(judge([])).toBe('AUTHOR_NOT_ENTITLED');
    expect(judge([{ ...grant, createdBlock: 21 }])).toBe('AUTHOR_NOT_ENTITLED');
    expect(judge([{ ...grant, createdBlock: 20 }])).toBeNull();
    expect(judge([{ ...grant, revokedAt: new Date(), revokedBlock: 21 }])).toBeNull();
    expect(judge([{ ...grant, revokedAt: new Date(), revokedBlock: 20 }])).toBe('AUTHOR_NOT_ENTITLED');
    expect(judge([{ ...grant, revokedAt: new Date(), revokedBlock: null }])).toBe('AUTHOR_NOT_ENTITLED');
    expect(judge([grant], { blockTime: 2_000_000 })).toBe('AUTHOR_NOT_ENTITLED');
  });

  it('needs c for a first version, u for a later one, for that type', () => {
    expect(judge([{ ...grant, scopes: 'patient/Observation.c' }])).toBe('AUTHOR_NOT_ENTITLED');
    expect(judge([{ ...grant, scopes: 'patient/Observation.c' }], { version: 1 })).toBeNull();
    expect(judge([{ ...grant, scopes: 'patient/Observation.u' }])).toBeNull();
    expect(judge([{ ...grant, scopes: 'patient/Observation.rs' }])).toBe('AUTHOR_NOT_ENTITLED');
    expect(judge([{ ...grant, scopes: 'patient/Condition.cu' }])).toBe('AUTHOR_NOT_ENTITLED');
    expect(judge([{ ...grant, scopes: 'patient/*.write' }])).toBeNull();
  });
});
