/* eslint-disable @typescript-eslint/no-explicit-any -- the FHIR fixtures are untyped JSON */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { stopTestDatabaseServer } from '../helpers/test-database.js';
import { signIn, startTestNode, type SignedInUser, type TestNode } from '../helpers/test-node.js';
import { IMPORT_BUNDLE } from '../records/chart-documents.js';

const fixtures = path.join(import.meta.dirname, '..', 'fixtures', 'fhir');
const readFixture = (name: string) => JSON.parse(readFileSync(path.join(fixtures, name), 'utf8'));
const synthea = readFixture('8a4c9c04-1524-9f1c-d65b-9b17e4520fef.json');
const extras = [
  'Condition-example.json',
  'AllergyIntolerance-example.json',
  'MedicationStatement-example001.json',
];

const SUMMARY = `query ($patient: String!) {
  phr(patient: $patient) {
    patient
    summary {
      total
      counts { resourceType count }
      vitalSigns { kind code system value unit effectiveAt recordId components { code value unit } }
      activeConditions { id resourceType resource }
      allergies { id resource }
      activeMedications { id resource }
      immunizations { id resource }
    }
    sources { account role total counts { resourceType count } }
  }
}`;

const TIMELINE = `query ($patient: String!, $first: Int!, $after: String, $types: [String!], $from: String, $to: String, $code: String) {
  phr(patient: $patient) {
    timeline(first: $first, after: $after, types: $types, from: $from, to: $to, code: $code) {
      totalCount
      edges { cursor node { id resourceType effectiveAt } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;

type Edge = { cursor: string; node: { id: string; resourceType: string; effectiveAt: string } };
type TimelineResponse = {
  phr: {
    timeline: {
      totalCount: number;
      edges: Edge[];
      pageInfo: { hasNextPage: boolean; endCursor: string | null };
    };
  };
};

describe('the unified chart: summary, timeline, sources', () => {
  let test: TestNode;
  let patient: SignedInUser;
  let idByIndex: string[];
  const extraIds: string[] = [];

  beforeAll(async () => {
    test = await startTestNode();
    patient = await signIn(test, 'PATIENT');
    const { importBundle } = await patient.client.request<{
      importBundle: { created: number; entries: { recordId: string }[] };
    }>(IMPORT_BUNDLE, { patient: patient.address, bundle: synthea });
    expect(importBundle.created).toBe(66);
    idByIndex = importBundle.entries.map((e) => e.recordId);
    for (const name of extras) {
      const { addRecord } = await patient.client.request<{ addRecord: { id: string } }>(
        `mutation ($patient: String!, $resource: JSON!) { addRecord(patient: $patient, resource: $resource) { id } }`,
        { patient: patient.address, resource: readFixture(name) },
      );
      extraIds.push(addRecord.id);
    }
  });

  afterAll(async () => {
    await test?.close();
    await stopTestDatabaseServer();
  });

  it('summarizes counts, the latest vital signs from the bundle, and the active lists', async () => {
    type Summary = {
      phr: {
        patient: string;
        summary: {
          total: number;
          counts: { resourceType: string; count: number }[];
          vitalSigns: {
            kind: string;
            code: string;
            system: string;
            value: number | null;
            unit: string | null;
            effectiveAt: string;
            recordId: string;
            components: { code: string; value: number | null; unit: string | null }[];
          }[];
          activeConditions: { id: string; resource: { id: string } }[];
          allergies: { id: string; resource: { id: string } }[];
          activeMedications: { id: string; resource: { id: string } }[];
          immunizations: { id: string; resource: { resourceType: string; occurrenceDateTime: string } }[];
        };
        sources: {
          account: string;
          role: string;
          total: number;
          counts: { resourceType: string; count: number }[];
        }[];
      };
    };
    const { phr } = await patient.client.request<Summary>(SUMMARY, { patient: patient.address });
    expect(phr.patient).toBe(patient.address);
    const { summary } = phr;
    expect(summary.total).toBe(69);
    expect(Object.fromEntries(summary.counts.map((c) => [c.resourceType, c.count]))).toEqual({
      AllergyIntolerance: 1,
      Claim: 3,
      Condition: 1,
      DiagnosticReport: 4,
      DocumentReference: 3,
      Encounter: 3,
      ExplanationOfBenefit: 3,
      Immunization: 7,
      MedicationStatement: 1,
      Observation: 38,
      Patient: 1,
      Procedure: 3,
      Provenance: 1,
    });

    // The bundle's last visit (2021-07-10): weight 6.8 kg, height 60.1 cm, heart rate 60/min, BP 111/88.
    const vitals = Object.fromEntries(summary.vitalSigns.map((v) => [v.kind, v]));
    expect(Object.keys(vitals).sort()).toEqual(['bloodPressure', 'heartRate', 'height', 'weight']);
    expect(vitals.weight).toMatchObject({
      code: '29463-7',
      system: 'http://loinc.org',
      value: 6.8,
      unit: 'kg',
    });
    expect(new Date(vitals.weight.effectiveAt).toISOString()).toBe('2021-07-10T06:03:00.000Z');
    expect(vitals.height).toMatchObject({ code: '8302-2', value: 60.1, unit: 'cm' });
    expect(vitals.heartRate).toMatchObject({ code: '8867-4', value: 60, unit: '/min' });
    expect(vitals.bloodPressure).toMatchObject({ code: '85354-9', value: null });
    expect(vitals.bloodPressure.components).toEqual([
      { code: '8480-6', value: 111, unit: 'mm[Hg]' },
      { code: '8462-4', value: 88, unit: 'mm[Hg]' },
    ]);
    const weightEntry = synthea.entry.findIndex(
      (e: { resource: { code?: { coding: { code: string }[] }; effectiveDateTime?: string } }) =>
        e.resource.code?.coding[0].code === '29463-7' &&
        e.resource.effectiveDateTime?.startsWith('2021-07-10'),
    );
    expect(vitals.weight.recordId).toBe(idByIndex[weightEntry]);

    expect(summary.activeConditions.map((c) => c.id)).toEqual([extraIds[0]]);
    expect(summary.activeConditions[0].resource.id).toBe('example');
    expect(summary.allergies.map((a) => a.id)).toEqual([extraIds[1]]);
    expect(summary.activeMedications.map((m) => m.id)).toEqual([extraIds[2]]);
    expect(summary.immunizations).toHaveLength(7);
    const dates = summary.immunizations.map((i) => Date.parse(i.resource.occurrenceDateTime));
    expect(dates).toEqual([...dates].sort((a, b) => b - a));

    expect(phr.sources).toHaveLength(1);
    expect(phr.sources[0]).toMatchObject({ account: patient.address, role: 'PATIENT', total: 69 });
  });

  async function walk(
    pageSize: number,
    filter: Record<string, unknown>,
  ): Promise<{ ids: string[]; total: number }> {
    const ids: string[] = [];
    let after: string | null = null;
    let total = -1;
    let previous: Edge | undefined;
    for (let page = 0; page < 200; page += 1) {
      const response: TimelineResponse = await patient.client.request<TimelineResponse>(TIMELINE, {
        patient: patient.address,
        first: pageSize,
        after,
        ...filter,
      });
      const { edges, pageInfo, totalCount } = response.phr.timeline;
      total = totalCount;
      expect(edges.length).toBeLessThanOrEqual(pageSize);
      for (const edge of edges) {
        if (previous) {
          // Newest first; ties broken by id, descending.
          const a = Date.parse(previous.node.effectiveAt);
          const b = Date.parse(edge.node.effectiveAt);
          expect(a > b || (a === b && previous.node.id > edge.node.id)).toBe(true);
        }
        previous = edge;
        ids.push(edge.node.id);
      }
      if (!pageInfo.hasNextPage) {
        expect(pageInfo.endCursor).toBe(edges.at(-1)?.cursor ?? null);
        return { ids, total };
      }
      expect(edges).toHaveLength(pageSize);
      after = pageInfo.endCursor;
    }
    throw new Error('timeline did not end');
  }

  const entries = synthea.entry as { resource: Record<string, any> }[];
  const indexesWhere = (test: (r: Record<string, any>) => boolean) =>
    entries.flatMap((e, i) => (test(e.resource) ? [i] : []));
  const hasCode = (r: Record<string, any>, code: string) =>
    [r.code, ...(r.component ?? []).map((c: { code: unknown }) => c.code)].some((c) =>
      c?.coding?.some((coding: { code: string }) => coding.code === code),
    );

  const filters: { name: string; filter: Record<string, unknown>; expected: () => string[] }[] = [
    { name: 'no filter', filter: {}, expected: () => [...idByIndex, ...extraIds] },
    {
      name: 'types Observation',
      filter: { types: ['Observation'] },
      expected: () => indexesWhere((r) => r.resourceType === 'Observation').map((i) => idByIndex[i]),
    },
    {
      name: 'types Immunization + Condition',
      filter: { types: ['Immunization', 'Condition'] },
      expected: () => [
        ...indexesWhere((r) => r.resourceType === 'Immunization').map((i) => idByIndex[i]),
        extraIds[0],
      ],
    },
    {
      name: 'code loinc|29463-7',
      filter: { code: 'http://loinc.org|29463-7' },
      expected: () => indexesWhere((r) => hasCode(r, '29463-7')).map((i) => idByIndex[i]),
    },
    {
      name: 'bare code 8480-6 (a blood pressure component)',
      filter: { code: '8480-6' },
      expected: () => indexesWhere((r) => hasCode(r, '8480-6')).map((i) => idByIndex[i]),
    },
    {
      name: 'Observations in May 2021',
      filter: { types: ['Observation'], from: '2021-05', to: '2021-05' },
      expected: () =>
        indexesWhere(
          (r) => r.resourceType === 'Observation' && r.effectiveDateTime.startsWith('2021-05'),
        ).map((i) => idByIndex[i]),
    },
  ];

  for (const { name, filter, expected } of filters) {
    it(`walks every record exactly once (${name}) with pages of 1, 7 and 50`, async () => {
      const want = expected();
      expect(want.length).toBeGreaterThan(0);
      for (const size of [1, 7, 50]) {
        const { ids, total } = await walk(size, filter);
        expect(total).toBe(want.length);
        expect(new Set(ids).size).toBe(ids.length);
        expect([...ids].sort()).toEqual([...want].sort());
      }
    });
  }

  it('keeps cursors stable: a cursor taken before new writes continues where it was', async () => {
    const first = await patient.client.request<TimelineResponse>(TIMELINE, {
      patient: patient.address,
      first: 10,
      types: ['Observation'],
    });
    // A newer Observation arrives; the next page after the old cursor is unaffected.
    const resource = {
      ...readFixture('Observation-example.json'),
      id: 'late',
      effectiveDateTime: '2030-01-01',
    };
    await patient.client.request(
      `mutation ($patient: String!, $resource: JSON!) { addRecord(patient: $patient, resource: $resource) { id } }`,
      { patient: patient.address, resource },
    );
    const next = await patient.client.request<TimelineResponse>(TIMELINE, {
      patient: patient.address,
      first: 10,
      types: ['Observation'],
      after: first.phr.timeline.pageInfo.endCursor,
    });
    const again = await patient.client.request<TimelineResponse>(TIMELINE, {
      patient: patient.address,
      first: 11,
      types: ['Observation'],
    });
    expect(again.phr.timeline.edges[0].node.effectiveAt).toBe('2030-01-01T00:00:00.000Z');
    expect(again.phr.timeline.edges.slice(1).map((e) => e.node.id)).toEqual(
      first.phr.timeline.edges.map((e) => e.node.id),
    );
    expect(next.phr.timeline.edges.map((e) => e.node.id)).not.toContain(again.phr.timeline.edges[0].node.id);
  });

  it('refuses a forged cursor and a bad date with BAD_USER_INPUT, and strangers with FORBIDDEN', async () => {
    const forged = await patient.client.send(TIMELINE, {
      patient: patient.address,
      first: 5,
      after: 'bm9wZQ',
    });
    expect(forged.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
    const badDate = await patient.client.send(TIMELINE, {
      patient: patient.address,
      first: 5,
      from: 'May 2021',
    });
    expect(badDate.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'from' });
    const stranger = await signIn(test, 'PATIENT');
    const summary = await stranger.client.send(SUMMARY, { patient: patient.address });
    expect(summary.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const timeline = await stranger.client.send(TIMELINE, { patient: patient.address, first: 5 });
    expect(timeline.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});
