import type { Resource } from '@medplum/fhirtypes';
import fc from 'fast-check';
import { extractFeatures, selectChartResources } from '../../src/ml/chart-features.js';
import { memoryChart, servedArtifact } from './helpers.js';

const now = new Date('2025-06-01T12:00:00Z');
const models = ['pima', 'cleveland', 'ckd'].map((dataset) => servedArtifact(dataset));
const SEED = 1795800000;

const coding = (system: string, code: string) => ({ coding: [{ system, code }] });
const loinc = (code: string) => coding('http://loinc.org', code);
const quantity = (value: number, code: string) => ({
  value,
  unit: code,
  system: 'http://unitsofmeasure.org',
  code,
});
const day = (n: number) => new Date(Date.UTC(2015, 0, 1) + n * 86_400_000).toISOString();

function glucose(
  id: string,
  when: string | undefined,
  value: number,
  extra: Partial<Resource> = {},
): Resource {
  return {
    resourceType: 'Observation',
    id,
    status: 'final',
    code: loinc('2345-7'),
    ...(when ? { effectiveDateTime: when } : {}),
    valueQuantity: quantity(value, 'mg/dL'),
    ...extra,
  } as Resource;
}

function condition(id: string, snomed: string, clinical: string, onset: string): Resource {
  return {
    resourceType: 'Condition',
    id,
    code: coding('http://snomed.info/sct', snomed),
    clinicalStatus: coding('http://terminology.hl7.org/CodeSystem/condition-clinical', clinical),
    onsetDateTime: onset,
    subject: { reference: 'Patient/p' },
  } as Resource;
}

/**
 * Ten years of a long chart: 3,650 daily glucose values and as many heart rates, a BP panel a week,
 * and at the head of the glucose list what a shortcut would get wrong: an undated value (written
 * now), a later entered-in-error one, one in the future, one without a number; Conditions where
 * the newest hypertension is resolved and an older one active.
 */
function longChart(): Resource[] {
  const chart: Resource[] = [
    { resourceType: 'Patient', id: 'p-other-copy', gender: 'male', birthDate: '1990-01-01' },
    { resourceType: 'Patient', id: 'p', gender: 'female', birthDate: '1970-02-03' },
  ];
  for (let i = 0; i < 3650; i += 1) {
    chart.push(glucose(`g${i}`, day(i), 90 + (i % 40)));
    chart.push({
      resourceType: 'Observation',
      id: `hr${i}`,
      status: 'final',
      code: loinc('8867-4'),
      effectiveDateTime: day(i),
      valueQuantity: quantity(60 + (i % 30), '/min'),
    } as Resource);
    if (i % 7 === 0) {
      chart.push({
        resourceType: 'Observation',
        id: `bp${i}`,
        status: 'final',
        code: loinc('85354-9'),
        effectiveDateTime: day(i),
        component: [
          { code: loinc('8480-6'), valueQuantity: quantity(110 + (i % 50), 'mm[Hg]') },
          { code: loinc('8462-4'), valueQuantity: quantity(70 + (i % 20), 'mm[Hg]') },
        ],
      } as Resource);
    }
  }
  chart.push(glucose('g-undated', undefined, 300));
  chart.push(glucose('g-error', day(3700), 400, { status: 'entered-in-error' } as Partial<Resource>));
  chart.push(glucose('g-future', '2026-01-01T00:00:00Z', 500));
  chart.push({
    resourceType: 'Observation',
    id: 'g-no-number',
    status: 'final',
    code: loinc('2345-7'),
    effectiveDateTime: day(3690),
    valueString: 'haemolysed',
  } as Resource);
  chart.push(condition('htn-old', '59621000', 'active', '2016-01-01'));
  chart.push(condition('htn-new', '59621000', 'resolved', '2024-01-01'));
  chart.push(condition('dm', '44054006', 'remission', '2020-01-01'));
  return chart;
}

describe('selectChartResources: only the records the features need, the same values as the whole chart', () => {
  const chart = longChart();

  it.each(models.map((m) => [m.modelId, m] as const))(
    '%s: the same extraction as on the whole chart (7,831 records), a few dozen decrypted',
    async (_, model) => {
      const reader = memoryChart(chart);
      const selected = await selectChartResources(model.features, now, reader);
      const whole = extractFeatures(model.features, reader.inChartOrder, now);
      expect(extractFeatures(model.features, selected, now)).toEqual(whole);
      expect(reader.decrypted).toBe(selected.length);
      expect(reader.decrypted).toBeLessThan(40);
    },
  );

  it('takes the latest dated numeric value, the first Patient, an older active Condition (known answer)', async () => {
    const ckd = models.find((m) => m.dataset.id === 'ckd')!;
    const reader = memoryChart(chart);
    const { values, sources } = extractFeatures(
      ckd.features,
      await selectChartResources(ckd.features, now, reader),
      now,
    );
    // The latest numeric glucose not in error and not in the future: day 3649 (90 + 3649 % 40 = 99).
    expect(sources.find((s) => s.feature === 'bgr')).toMatchObject({ resourceId: 'g3649', value: 99 });
    // Diastolic of the last weekly panel, day 3647: 70 + 3647 % 20 = 77.
    expect(sources.find((s) => s.feature === 'bp')).toMatchObject({ resourceId: 'bp3647', value: 77 });
    // Patient 'p' is the first Patient in the chart's order (same write time, larger id).
    expect(values.age).toBe(55);
    expect(sources.find((s) => s.feature === 'htn')).toMatchObject({ resourceId: 'htn-old', value: 1 });
    expect(values.dm).toBe(0);
    // Heart rates are not read at all; of the glucose list only its head.
    expect(reader.decrypted).toBeLessThan(20);
  });

  it(`random charts: the same extraction as on the whole chart (fast-check, seed ${SEED})`, async () => {
    const codes = ['2345-7', '1558-6', '2339-0', '8480-6', '8462-4', '39156-5', '2093-3', '718-7', '8867-4'];
    const observation = fc.record({
      code: fc.constantFrom(...codes),
      component: fc.option(fc.constantFrom('8480-6', '8462-4'), { nil: undefined }),
      time: fc.option(fc.integer({ min: 3000, max: 4200 }), { nil: undefined }),
      period: fc.boolean(),
      status: fc.constantFrom('final', 'final', 'amended', 'entered-in-error', 'cancelled'),
      value: fc.option(fc.integer({ min: 40, max: 200 }), { nil: undefined }),
      unit: fc.constantFrom('mg/dL', 'mmol/L', 'mm[Hg]', 'kg/m2', 'g/dL', 'furlong'),
    });
    const conditionArb = fc.record({
      snomed: fc.constantFrom('59621000', '38341003', '44054006', '53741008', '271737000', '10509002'),
      clinical: fc.option(fc.constantFrom('active', 'resolved', 'remission', 'recurrence'), {
        nil: undefined,
      }),
      verification: fc.option(fc.constantFrom('confirmed', 'refuted'), { nil: undefined }),
      onset: fc.integer({ min: 0, max: 4000 }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(observation, { maxLength: 80 }),
        fc.array(conditionArb, { maxLength: 8 }),
        fc.option(fc.constantFrom('male', 'female', 'other'), { nil: undefined }),
        async (observations, conditions, gender) => {
          const chart: Resource[] = [
            { resourceType: 'Patient', id: 'p', ...(gender ? { gender } : {}), birthDate: '1960-05-05' },
          ];
          observations.forEach((o, i) => {
            const value = o.value === undefined ? {} : { valueQuantity: quantity(o.value, o.unit) };
            const when =
              o.time === undefined
                ? {}
                : o.period
                  ? { effectivePeriod: { start: day(o.time), end: day(o.time + 30) } }
                  : { effectiveDateTime: day(o.time) };
            chart.push({
              resourceType: 'Observation',
              id: `o${i}`,
              status: o.status,
              code: loinc(o.code),
              ...when,
              ...(o.component ? { component: [{ code: loinc(o.component), ...value }] } : value),
            } as Resource);
          });
          conditions.forEach((c, i) =>
            chart.push({
              resourceType: 'Condition',
              id: `c${i}`,
              code: coding('http://snomed.info/sct', c.snomed),
              ...(c.clinical
                ? {
                    clinicalStatus: coding(
                      'http://terminology.hl7.org/CodeSystem/condition-clinical',
                      c.clinical,
                    ),
                  }
                : {}),
              ...(c.verification
                ? {
                    verificationStatus: coding(
                      'http://terminology.hl7.org/CodeSystem/condition-ver-status',
                      c.verification,
                    ),
                  }
                : {}),
              onsetDateTime: day(c.onset),
            } as Resource),
          );
          for (const model of models) {
            const reader = memoryChart(chart);
            const selected = await selectChartResources(model.features, now, reader);
            expect(extractFeatures(model.features, selected, now)).toEqual(
              extractFeatures(model.features, reader.inChartOrder, now),
            );
          }
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });
});
