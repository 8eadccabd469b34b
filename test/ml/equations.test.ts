import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Resource } from '@medplum/fhirtypes';
import { parseArtifact, serializeArtifact } from '../../src/ml/artifact.js';
import { EQUATION_ARTIFACTS } from '../../src/ml/equation-artifacts.js';
import { ckdEpi2021, kdigoStage, pooledCohortRisk, type PceInput } from '../../src/ml/equations.js';
import type { LoadedModel } from '../../src/ml/model-registry.js';
import { PredictionService } from '../../src/ml/prediction-service.js';
import { modelsDir, unanchoredModel } from './helpers.js';

// The worked example of Goff et al. 2013 (Table A of the guideline's appendix): 55 years old, total
// cholesterol 213 mg/dL, HDL 50 mg/dL, untreated systolic 120 mm Hg, non-smoker, no diabetes.
const example = {
  age: 55,
  totalCholesterol: 213,
  hdl: 50,
  systolic: 120,
  treatedHypertension: false,
  smoker: false,
  diabetes: false,
};
const PUBLISHED = [
  { female: true, africanAmerican: false, risk: 2.1 },
  { female: true, africanAmerican: true, risk: 3.0 },
  { female: false, africanAmerican: false, risk: 5.3 },
  { female: false, africanAmerican: true, risk: 6.1 },
];

describe('Pooled Cohort Equations', () => {
  it.each(PUBLISHED)(
    'reproduces the published example (female $female, AA $africanAmerican): $risk %',
    (row) => {
      const risk = 100 * pooledCohortRisk({ ...example, ...row } as PceInput);
      // The paper rounds its intermediate terms to two decimals; exact arithmetic differs by < 0.1 point
      // (white men: 5.38 % exact vs 5.3 % published).
      expect(Math.abs(risk - row.risk)).toBeLessThan(0.1);
    },
  );

  it('raises the risk for smoking, diabetes and treated pressure, as the coefficients say', () => {
    const base = pooledCohortRisk({ ...example, female: false, africanAmerican: false });
    expect(
      pooledCohortRisk({ ...example, female: false, africanAmerican: false, smoker: true }),
    ).toBeGreaterThan(base);
    expect(
      pooledCohortRisk({ ...example, female: false, africanAmerican: false, diabetes: true }),
    ).toBeGreaterThan(base);
    expect(
      pooledCohortRisk({ ...example, female: false, africanAmerican: false, treatedHypertension: true }),
    ).toBeGreaterThan(base);
  });
});

describe('CKD-EPI 2021 creatinine equation', () => {
  // Values as the equation's authors publish it (142 × min(Scr/κ,1)^α × max(Scr/κ,1)^−1.200 ×
  // 0.9938^age × 1.012 if female), worked out independently to two decimals, and the KDIGO category.
  it.each([
    { creatinine: 1.0, age: 60, female: false, egfr: 86.16, stage: 'G2' },
    { creatinine: 1.0, age: 50, female: true, egfr: 68.63, stage: 'G2' },
    { creatinine: 0.7, age: 40, female: true, egfr: 112.05, stage: 'G1' },
    { creatinine: 2.0, age: 70, female: false, egfr: 35.24, stage: 'G3b' },
    { creatinine: 0.6, age: 30, female: false, egfr: 133.18, stage: 'G1' },
  ])('Scr $creatinine mg/dL, age $age, female $female → $egfr ($stage)', (row) => {
    const egfr = ckdEpi2021(row.creatinine, row.age, row.female);
    expect(egfr).toBeCloseTo(row.egfr, 1);
    expect(kdigoStage(egfr)).toBe(row.stage);
  });

  it('puts the KDIGO boundaries where the guideline does', () => {
    expect([90, 89.9, 60, 59.9, 45, 44.9, 30, 29.9, 15, 14.9].map(kdigoStage)).toEqual([
      'G1',
      'G2',
      'G2',
      'G3a',
      'G3a',
      'G3b',
      'G3b',
      'G4',
      'G4',
      'G5',
    ]);
  });
});

describe('equations as served models', () => {
  const models = new Map<string, LoadedModel>(
    EQUATION_ARTIFACTS.map((a) => [a.modelId, unanchoredModel(a)] as [string, LoadedModel]),
  );
  const service = new PredictionService({ get: (id: string) => models.get(id)! });
  const now = new Date('2021-07-01T00:00:00Z');

  it('ships artifacts identical to the ones built from the coefficients in the code', () => {
    for (const artifact of EQUATION_ARTIFACTS) {
      const file = path.join(modelsDir, `${artifact.modelId}.model.json`);
      const shipped = readFileSync(file);
      expect(Buffer.from(serializeArtifact(artifact)).equals(shipped)).toBe(true);
      expect(parseArtifact(shipped, file).modelId).toBe(artifact.modelId);
    }
  });

  const ucum = (value: number, code: string) => ({
    value,
    unit: code,
    system: 'http://unitsofmeasure.org',
    code,
  });
  const obs = (id: string, loinc: string, value: number, unit: string): Resource => ({
    resourceType: 'Observation',
    id,
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: loinc }] },
    effectiveDateTime: '2021-06-01T09:00:00Z',
    valueQuantity: ucum(value, unit),
  });
  /** The worked example's patient as FHIR, lipids in mmol/L and creatinine in µmol/L. */
  function chart(gender: 'male' | 'female', africanAmerican: boolean): Resource[] {
    return [
      {
        resourceType: 'Patient',
        id: 'p',
        gender,
        birthDate: '1966-01-15', // 55 on 2021-07-01
        extension: [
          {
            url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race',
            extension: [
              {
                url: 'ombCategory',
                valueCoding: {
                  system: 'urn:oid:2.16.840.1.113883.6.238',
                  code: africanAmerican ? '2054-5' : '2106-3',
                },
              },
            ],
          },
        ],
      },
      obs('tc', '2093-3', 213 / 38.67, 'mmol/L'),
      obs('hdl', '2085-9', 50 / 38.67, 'mmol/L'),
      obs('cr', '2160-0', 88.4, 'umol/L'),
      {
        resourceType: 'Observation',
        id: 'bp',
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '85354-9' }] },
        effectiveDateTime: '2021-06-01T09:00:00Z',
        component: [
          {
            code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] },
            valueQuantity: ucum(120, 'mm[Hg]'),
          },
          {
            code: { coding: [{ system: 'http://loinc.org', code: '8462-4' }] },
            valueQuantity: ucum(80, 'mm[Hg]'),
          },
        ],
      },
      {
        resourceType: 'Observation',
        id: 'smoking',
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '72166-2' }] },
        effectiveDateTime: '2021-06-01T09:00:00Z',
        valueCodeableConcept: { coding: [{ system: 'http://snomed.info/sct', code: '266919005' }] },
      },
    ];
  }

  it.each(PUBLISHED)(
    'gives the published PCE risk from the FHIR chart in mmol/L (female $female, AA $africanAmerican)',
    (row) => {
      const answer = service.predictFromChart(
        'ascvd-pce',
        chart(row.female ? 'female' : 'male', row.africanAmerican),
        now,
      );
      expect(answer.missing).toEqual([]);
      expect(Math.abs(answer.value! - row.risk)).toBeLessThan(0.1);
      expect(answer.probability).toBeCloseTo(answer.value! / 100, 12);
      expect(answer.unit).toBe('%');
      expect(answer.label).toBe(0); // below the 7.5 % threshold
      const tc = answer.sources.find((s) => s.feature === 'total_cholesterol')!;
      expect(tc.original).toEqual({ value: 213 / 38.67, unit: 'mmol/L' });
      expect(tc.value).toBeCloseTo(213, 9);
    },
  );

  it('gives the eGFR of 1.0 mg/dL from a creatinine written as 88.4 µmol/L', () => {
    const answer = service.predictFromChart('egfr-ckd-epi-2021', chart('male', false), now);
    expect(answer.value).toBeCloseTo(ckdEpi2021(1.0, 55, false), 9);
    expect(answer.value).toBeCloseTo(88.88, 1);
    expect(answer.category).toBe('G2: mildly decreased');
    expect(answer.probability).toBeNull();
    expect(answer.label).toBe(0);
  });

  it('refuses a chart without a required input instead of imputing it', () => {
    const withoutHdl = chart('female', false).filter((r) => r.id !== 'hdl');
    expect(() => service.predictFromChart('ascvd-pce', withoutHdl, now)).toThrow(/hdl_cholesterol/);
  });

  it('reads a current smoker and an active antihypertensive from the chart', () => {
    const resources = chart('male', false).map((r) =>
      r.id === 'smoking'
        ? {
            ...r,
            valueCodeableConcept: { coding: [{ system: 'http://snomed.info/sct', code: '449868002' }] },
          }
        : r,
    );
    resources.push({
      resourceType: 'MedicationRequest',
      id: 'rx',
      status: 'active',
      intent: 'order',
      subject: { reference: 'Patient/p' },
      medicationCodeableConcept: {
        coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '314076' }],
      },
    } as Resource);
    const answer = service.predictFromChart('ascvd-pce', resources, now);
    const expected = pooledCohortRisk({
      ...example,
      female: false,
      africanAmerican: false,
      smoker: true,
      treatedHypertension: true,
    });
    expect(answer.probability).toBeCloseTo(expected, 12);
  });
});
