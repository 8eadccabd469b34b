import type { Resource } from '@medplum/fhirtypes';
import { BadUserInputError } from '../../src/errors.js';
import type { PlannedEntry } from '../../src/records/bundle.js';
import {
  classifyItems,
  identityOf,
  recordIdHint,
  recordIdHintsForNew,
  summarize,
  type HeldRecord,
  type WriteItem,
} from '../../src/records/write-plan.js';

const item = (
  index: number,
  resourceType: string,
  sourceKey: string | null,
  extra: Partial<WriteItem> = {},
) =>
  ({
    index,
    resource: { resourceType, ...(sourceKey ? { id: sourceKey } : {}) } as Resource,
    fullUrl: null,
    sourceKey,
    patientReferences: [],
    ...extra,
  }) satisfies WriteItem;

const held = (id: string, resourceType: string, sourceKey: string, version: number, contentHmac: string) =>
  ({
    id,
    resourceType,
    sourceKey,
    currentVersion: version,
    cid: `cid-${id}-${version}`,
    contentHmac,
  }) as HeldRecord;

describe('the write plan (no I/O)', () => {
  const existing = new Map([
    [
      identityOf('Observation', 'same'),
      held('11111111-1111-4111-8111-111111111111', 'Observation', 'same', 3, 'h-same'),
    ],
    [
      identityOf('Observation', 'changed'),
      held('22222222-2222-4222-8222-222222222222', 'Observation', 'changed', 1, 'h-old'),
    ],
  ]);

  it('tells new, changed, unchanged and mismatched resources apart', () => {
    const items = [
      item(0, 'Observation', 'same'),
      item(1, 'Observation', 'changed'),
      item(2, 'Observation', 'new'),
      // Same source key, another type: a different identity, so a new record.
      item(3, 'Condition', 'same'),
      item(4, 'Condition', 'linked', { patientReferences: ['Patient/other'] }),
      item(5, 'Condition', null, { recordId: '33333333-3333-4333-8333-333333333333' }),
    ];
    let n = 0;
    const plan = classifyItems(
      items,
      ['h-same', 'h-new', 'h-2', 'h-3', 'h-4', 'h-5'],
      existing,
      new Set(['Patient/other']),
      () => `fresh-${(n += 1)}`,
    );
    expect(plan.results.map((r) => [r.index, r.outcome, r.recordId, r.version, r.code ?? null])).toEqual([
      [0, 'UNCHANGED', '11111111-1111-4111-8111-111111111111', 3, null],
      [1, 'UPDATED', '22222222-2222-4222-8222-222222222222', 2, null],
      [2, 'CREATED', 'fresh-1', 1, null],
      [3, 'CREATED', 'fresh-2', 1, null],
      [4, 'REJECTED', null, null, 'PATIENT_MISMATCH'],
      [5, 'CREATED', '33333333-3333-4333-8333-333333333333', 1, null],
    ]);
    // Only new versions are written, each pointing at the version it replaces.
    expect(plan.toWrite.map((w) => [w.item.index, w.previousCid, w.hmac])).toEqual([
      [1, 'cid-22222222-2222-4222-8222-222222222222-1', 'h-new'],
      [2, null, 'h-2'],
      [3, null, 'h-3'],
      [5, null, 'h-5'],
    ]);
    expect([...plan.records.keys()]).toEqual(['11111111-1111-4111-8111-111111111111']);
    expect(plan.results[4].reason).toBe("Patient/other is already linked to another patient's chart");
  });

  it('accepts a named record id only where the write makes that record', () => {
    const free = '44444444-4444-4444-8444-444444444444';
    expect(
      recordIdHintsForNew(
        [
          item(0, 'Observation', 'changed', { recordId: '22222222-2222-4222-8222-222222222222' }),
          item(1, 'Observation', 'new', { recordId: free }),
        ],
        existing,
      ),
    ).toEqual([free]);
    expect(() =>
      recordIdHintsForNew([item(0, 'Observation', 'changed', { recordId: free })], existing),
    ).toThrow(/does not match: this resource is a new version of record 22222222/);
    expect(() =>
      recordIdHintsForNew(
        [item(0, 'Observation', 'a', { recordId: free }), item(1, 'Observation', 'b', { recordId: free })],
        existing,
      ),
    ).toThrow('the same recordId is named for two resources');
  });

  it('reads a record id as a UUID or the bytes16 hex a client signed', () => {
    expect(recordIdHint('0x4444444444444444844444444444444a')).toBe('44444444-4444-4444-8444-44444444444a');
    expect(recordIdHint('44444444-4444-4444-8444-44444444444A')).toBe('44444444-4444-4444-8444-44444444444a');
    expect(recordIdHint(null)).toBeUndefined();
    expect(() => recordIdHint('42', 'recordIds[3]')).toThrow(BadUserInputError);
    expect(() => recordIdHint('42', 'recordIds[3]')).toThrow('recordIds[3] must be a record id (UUID)');
  });

  it('answers a Bundle all or nothing', () => {
    const entries: PlannedEntry[] = [
      { index: 0, fullUrl: 'urn:uuid:a', resourceType: 'Observation', sourceKey: 'a' },
      { index: 1, fullUrl: 'urn:uuid:b', resourceType: 'Condition', sourceKey: 'b' },
    ];
    const results = new Map([
      [0, { index: 0, resourceType: 'Observation', outcome: 'CREATED' as const, recordId: 'r0', version: 1 }],
      [
        1,
        {
          index: 1,
          resourceType: 'Condition',
          outcome: 'REJECTED' as const,
          recordId: null,
          version: null,
          code: 'PATIENT_MISMATCH' as const,
          reason: 'linked elsewhere',
        },
      ],
    ]);
    const refused = summarize(entries, results, false);
    expect(refused).toMatchObject({ created: 0, rejected: 2, written: false });
    expect(refused.entries.map((e) => [e.outcome, e.code])).toEqual([
      ['REJECTED', 'BUNDLE_REJECTED'],
      ['REJECTED', 'PATIENT_MISMATCH'],
    ]);
    expect(refused.entries[0].reason).toBe(
      'not written: the import is all or nothing and entries 1 were rejected',
    );

    results.set(1, { index: 1, resourceType: 'Condition', outcome: 'CREATED', recordId: 'r1', version: 1 });
    expect(summarize(entries, results, true)).toMatchObject({ created: 2, rejected: 0, written: true });
  });
});
