import type { Resource } from '@medplum/fhirtypes';
import { BadUserInputError } from '../../src/errors.js';
import type { LoadedModel } from '../../src/ml/model-registry.js';
import { PredictionService } from '../../src/ml/prediction-service.js';
import { servedArtifact, unanchoredModel } from './helpers.js';

const pima = unanchoredModel(servedArtifact('pima'));
const cleveland = unanchoredModel(servedArtifact('cleveland'));
const ckd = unanchoredModel(servedArtifact('ckd'));
const models = new Map<string, LoadedModel>([pima, cleveland, ckd].map((m) => [m.artifact.modelId, m]));
const service = new PredictionService({ get: (id: string) => models.get(id)! });
const now = new Date('2025-06-01T12:00:00Z');

const loinc = (code: string) => ({ coding: [{ system: 'http://loinc.org', code }] });
const quantity = (value: number, code: string) => ({
  value,
  unit: code,
  system: 'http://unitsofmeasure.org',
  code,
});
function observation(id: string, code: string, value: number, unit: string, when: string): Resource {
  return {
    resourceType: 'Observation',
    id,
    status: 'final',
    code: loinc(code),
    effectiveDateTime: when,
    valueQuantity: quantity(value, unit),
  };
}

/** A chart: age 41 on `now`, glucose in mmol/L (older mg/dL value superseded), a BP panel, BMI. */
const chart: Resource[] = [
  { resourceType: 'Patient', id: 'p1', gender: 'female', birthDate: '1984-03-15' },
  observation('g-old', '2345-7', 180, 'mg/dL', '2024-01-01T08:00:00Z'),
  observation('g-new', '2345-7', 7.0, 'mmol/L', '2025-05-20T08:00:00Z'),
  observation('g-future', '2345-7', 3.0, 'mmol/L', '2025-07-01T08:00:00Z'),
  {
    resourceType: 'Observation',
    id: 'bp',
    status: 'final',
    code: loinc('85354-9'),
    effectiveDateTime: '2025-05-20T08:05:00Z',
    component: [
      { code: loinc('8480-6'), valueQuantity: quantity(128, 'mm[Hg]') },
      { code: loinc('8462-4'), valueQuantity: quantity(84, 'mm[Hg]') },
    ],
  },
  observation('bmi', '39156-5', 31.4, 'kg/m2', '2025-05-20T08:10:00Z'),
  observation('preg', '11996-6', 2, '{#}', '2025-05-20T08:10:00Z'),
];

describe('predictFromChart', () => {
  const id = pima.artifact.modelId;

  it('gives the same answer as predict on the equivalent feature vector (mmol/L glucose converted)', () => {
    const fromChart = service.predictFromChart(id, chart, now);
    const fromVector = service.predict(id, {
      pregnancies: 2,
      glucose: 7.0 * 18.016,
      blood_pressure: 84,
      bmi: 31.4,
      age: 41,
    });
    expect(fromChart.probability).toBe(fromVector.probability);
    expect(fromChart.label).toBe(fromVector.label);
    expect(fromChart.topFeatures).toEqual(fromVector.topFeatures);
    expect(fromChart.imputed.map((f) => f.feature).sort()).toEqual([
      'diabetes_pedigree',
      'insulin',
      'skin_thickness',
    ]);
    expect(fromChart.missing.map((m) => [m.feature, m.reason])).toEqual([
      ['skin_thickness', 'NO_CHART_SOURCE'],
      ['insulin', 'NOT_IN_CHART'],
      ['diabetes_pedigree', 'NO_CHART_SOURCE'],
    ]);
    const glucose = fromChart.sources.find((s) => s.feature === 'glucose')!;
    expect(glucose).toMatchObject({ resourceId: 'g-new', original: { value: 7, unit: 'mmol/L' } });
    expect(glucose.value).toBeCloseTo(126.112, 9);
  });

  it('answers differently when the glucose unit is ignored (the conversion matters)', () => {
    const wrong = service.predict(id, {
      pregnancies: 2,
      glucose: 180,
      blood_pressure: 84,
      bmi: 31.4,
      age: 41,
    });
    expect(wrong.probability).not.toBe(service.predictFromChart(id, chart, now).probability);
  });

  it('converts cholesterol from mmol/L and derives fasting blood sugar for the heart model', () => {
    const heartChart: Resource[] = [
      { resourceType: 'Patient', id: 'p2', gender: 'male', birthDate: '1960-07-01' },
      observation('chol', '2093-3', 6.2, 'mmol/L', '2025-05-01T08:00:00Z'),
      observation('fg', '1558-6', 7.5, 'mmol/L', '2025-05-01T08:00:00Z'),
      observation('sbp', '8480-6', 150, 'mm[Hg]', '2025-05-01T08:00:00Z'),
    ];
    const extraction = service.predictFromChart.bind(service);
    // Cleveland needs exercise-test features no chart here carries: refused, listing what is missing.
    try {
      extraction(cleveland.artifact.modelId, heartChart, now);
      throw new Error('expected TOO_MANY_MISSING');
    } catch (error) {
      expect(error).toBeInstanceOf(BadUserInputError);
      const details = (error as BadUserInputError).details!;
      expect(details.reason).toBe('TOO_MANY_MISSING');
      expect((details.missing as { feature: string }[]).map((m) => m.feature)).toEqual([
        'cp',
        'restecg',
        'thalach',
        'exang',
        'oldpeak',
        'slope',
        'ca',
        'thal',
      ]);
    }
  });

  it('reads creatinine in µmol/L and Conditions for the kidney model', () => {
    const kidneyChart: Resource[] = [
      { resourceType: 'Patient', id: 'p3', gender: 'male', birthDate: '1955-01-01' },
      observation('cr', '2160-0', 265.2, 'umol/L', '2025-05-01T08:00:00Z'),
      observation('hb', '718-7', 98, 'g/L', '2025-05-01T08:00:00Z'),
      observation('sg', '5811-5', 1.01, '1', '2025-05-01T08:00:00Z'),
      observation('bgr', '2345-7', 160, 'mg/dL', '2025-05-01T08:00:00Z'),
      observation('bu', '3091-6', 80, 'mg/dL', '2025-05-01T08:00:00Z'),
      observation('na', '2951-2', 134, 'mmol/L', '2025-05-01T08:00:00Z'),
      observation('k', '2823-3', 5.1, 'mmol/L', '2025-05-01T08:00:00Z'),
      observation('hct', '4544-3', 30, '%', '2025-05-01T08:00:00Z'),
      observation('wbc', '6690-2', 9.1, '10*3/uL', '2025-05-01T08:00:00Z'),
      observation('rbc', '789-8', 3.6, '10*6/uL', '2025-05-01T08:00:00Z'),
      observation('dbp', '8462-4', 90, 'mm[Hg]', '2025-05-01T08:00:00Z'),
      {
        resourceType: 'Condition',
        id: 'htn',
        subject: { reference: 'Patient/p3' },
        clinicalStatus: { coding: [{ code: 'active' }] },
        code: { coding: [{ system: 'http://snomed.info/sct', code: '38341003' }] },
      },
    ];
    const fromChart = service.predictFromChart(ckd.artifact.modelId, kidneyChart, now);
    const fromVector = service.predict(ckd.artifact.modelId, {
      age: 70,
      bp: 90,
      sg: 1.01,
      bgr: 160,
      bu: 80,
      sc: 265.2 / 88.4,
      sod: 134,
      pot: 5.1,
      hemo: 9.8,
      pcv: 30,
      wc: 9100,
      rc: 3.6,
      htn: 1,
      dm: 0,
      cad: 0,
      ane: 0,
    });
    expect(fromChart.probability).toBe(fromVector.probability);
    expect(fromChart.sources.find((s) => s.feature === 'sc')!.value).toBeCloseTo(3, 12);
    expect(fromChart.label).toBe(1);
  });
});

describe('predict input validation', () => {
  const id = pima.artifact.modelId;

  function problems(features: unknown): { feature: string; reason: string }[] {
    try {
      service.predict(id, features);
    } catch (error) {
      expect(error).toBeInstanceOf(BadUserInputError);
      expect((error as BadUserInputError).code).toBe('BAD_USER_INPUT');
      return ((error as BadUserInputError).details!.problems ?? []) as { feature: string; reason: string }[];
    }
    throw new Error('expected BAD_USER_INPUT');
  }

  it('names unknown features, strings, NaN and out-of-range values, all at once', () => {
    expect(
      problems({ glucose: '140', bmi: NaN, age: 300, cholesterol: 5, pregnancies: 1.5 }).map((p) => [
        p.feature,
        p.reason,
      ]),
    ).toEqual([
      ['glucose', 'NOT_A_NUMBER'],
      ['bmi', 'NOT_FINITE'],
      ['age', 'OUT_OF_RANGE'],
      ['cholesterol', 'UNKNOWN_FEATURE'],
      ['pregnancies', 'NOT_AN_INTEGER'],
    ]);
  });

  it('refuses a non-object and too many missing features', () => {
    expect(() => service.predict(id, [1, 2, 3])).toThrow(BadUserInputError);
    expect(() => service.predict(id, 'glucose=140')).toThrow(BadUserInputError);
    try {
      service.predict(id, { glucose: 140 });
      throw new Error('expected TOO_MANY_MISSING');
    } catch (error) {
      expect((error as BadUserInputError).details!.reason).toBe('TOO_MANY_MISSING');
    }
  });

  it('answers a valid vector with provenance and the strongest features', () => {
    const answer = service.predict(id, {
      pregnancies: 6,
      glucose: 148,
      blood_pressure: 72,
      skin_thickness: 35,
      insulin: null,
      bmi: 33.6,
      diabetes_pedigree: 0.627,
      age: 50,
    });
    expect(answer.probability).toBeGreaterThan(0.5);
    expect(answer.label).toBe(1);
    expect(answer.imputed.map((f) => f.feature)).toEqual(['insulin']);
    expect(answer.topFeatures.length).toBeGreaterThan(0);
    expect(answer.topFeatures.map((f) => f.feature)).toContain('glucose');
    expect(answer.metrics!.accuracy.mean).toBe(pima.artifact.metrics!.accuracy.mean);
  });
});
