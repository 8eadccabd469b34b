/**
 * Published clinical equations served beside the trained models: the ACC/AHA Pooled Cohort Equations
 * (10-year risk of a first hard ASCVD event) and the race-free CKD-EPI 2021 creatinine eGFR with its
 * KDIGO G category. Their coefficients live in the model artifact, so the anchored CID fixes them.
 *
 * Over 400 lines because each equation carries its published coefficient tables and input
 * definitions beside the arithmetic, so one file can be checked against the paper.
 */
import type { Predictor } from './algorithms/types.js';
import type { Population } from './datasets.js';
import { cholesterolUnits, creatinineUnits, DIABETES, flag, systolic, type FeatureSpec } from './features.js';

export type EquationId = 'pooled-cohort-2013' | 'ckd-epi-2021-creatinine';

/** What an equation answers besides a probability: a value in a unit, its category, a 0/1 label. */
export interface EquationOutput {
  value: number;
  unit: string;
  category: string;
  label: 0 | 1;
  /** P(label = 1) when the value is a probability (PCE), else null. */
  probability: number | null;
}

export interface EquationPredictor extends Predictor {
  output(z: readonly number[]): EquationOutput;
}

// ---- Pooled Cohort Equations (Goff DC Jr et al., Circulation 2014;129:S49–S73, Table A) ----------

/** Coefficients of one sex–race group; terms a group does not use are absent (0). */
export interface PceCoefficients {
  lnAge: number;
  lnAgeSquared?: number;
  lnTotalCholesterol: number;
  lnAgeLnTotalCholesterol?: number;
  lnHdl: number;
  lnAgeLnHdl?: number;
  lnTreatedSbp: number;
  lnAgeLnTreatedSbp?: number;
  lnUntreatedSbp: number;
  lnAgeLnUntreatedSbp?: number;
  smoker: number;
  lnAgeSmoker?: number;
  diabetes: number;
  /** Baseline survival at 10 years. */
  baselineSurvival: number;
  /** Mean of coefficient × value in the derivation cohort. */
  meanSum: number;
}

export type PceGroup = 'white-female' | 'african-american-female' | 'white-male' | 'african-american-male';

export const PCE_COEFFICIENTS: Readonly<Record<PceGroup, PceCoefficients>> = {
  'white-female': {
    lnAge: -29.799,
    lnAgeSquared: 4.884,
    lnTotalCholesterol: 13.54,
    lnAgeLnTotalCholesterol: -3.114,
    lnHdl: -13.578,
    lnAgeLnHdl: 3.149,
    lnTreatedSbp: 2.019,
    lnUntreatedSbp: 1.957,
    smoker: 7.574,
    lnAgeSmoker: -1.665,
    diabetes: 0.661,
    baselineSurvival: 0.9665,
    meanSum: -29.18,
  },
  'african-american-female': {
    lnAge: 17.114,
    lnTotalCholesterol: 0.94,
    lnHdl: -18.92,
    lnAgeLnHdl: 4.475,
    lnTreatedSbp: 29.291,
    lnAgeLnTreatedSbp: -6.432,
    lnUntreatedSbp: 27.82,
    lnAgeLnUntreatedSbp: -6.087,
    smoker: 0.691,
    diabetes: 0.874,
    baselineSurvival: 0.9533,
    meanSum: 86.61,
  },
  'white-male': {
    lnAge: 12.344,
    lnTotalCholesterol: 11.853,
    lnAgeLnTotalCholesterol: -2.664,
    lnHdl: -7.99,
    lnAgeLnHdl: 1.769,
    lnTreatedSbp: 1.797,
    lnUntreatedSbp: 1.764,
    smoker: 7.837,
    lnAgeSmoker: -1.795,
    diabetes: 0.658,
    baselineSurvival: 0.9144,
    meanSum: 61.18,
  },
  'african-american-male': {
    lnAge: 2.469,
    lnTotalCholesterol: 0.302,
    lnHdl: -0.307,
    lnTreatedSbp: 1.916,
    lnUntreatedSbp: 1.809,
    smoker: 0.549,
    diabetes: 0.645,
    baselineSurvival: 0.8954,
    meanSum: 19.54,
  },
};

export interface PceInput {
  age: number;
  female: boolean;
  /** false for every other race: the guideline uses the white equations for them. */
  africanAmerican: boolean;
  /** mg/dL */
  totalCholesterol: number;
  /** mg/dL */
  hdl: number;
  /** mm Hg */
  systolic: number;
  treatedHypertension: boolean;
  smoker: boolean;
  diabetes: boolean;
}

export function pceGroup(input: Pick<PceInput, 'female' | 'africanAmerican'>): PceGroup {
  return `${input.africanAmerican ? 'african-american' : 'white'}-${input.female ? 'female' : 'male'}`;
}

/** 10-year risk of a first hard ASCVD event (0–1): 1 − S10^exp(Σ coefficient × value − mean). */
export function pooledCohortRisk(
  input: PceInput,
  table: Readonly<Record<PceGroup, PceCoefficients>> = PCE_COEFFICIENTS,
): number {
  const c = table[pceGroup(input)];
  const lnAge = Math.log(input.age);
  const lnTc = Math.log(input.totalCholesterol);
  const lnHdl = Math.log(input.hdl);
  const lnSbp = Math.log(input.systolic);
  const smoker = input.smoker ? 1 : 0;
  const sum =
    c.lnAge * lnAge +
    (c.lnAgeSquared ?? 0) * lnAge * lnAge +
    c.lnTotalCholesterol * lnTc +
    (c.lnAgeLnTotalCholesterol ?? 0) * lnAge * lnTc +
    c.lnHdl * lnHdl +
    (c.lnAgeLnHdl ?? 0) * lnAge * lnHdl +
    (input.treatedHypertension
      ? c.lnTreatedSbp * lnSbp + (c.lnAgeLnTreatedSbp ?? 0) * lnAge * lnSbp
      : c.lnUntreatedSbp * lnSbp + (c.lnAgeLnUntreatedSbp ?? 0) * lnAge * lnSbp) +
    c.smoker * smoker +
    (c.lnAgeSmoker ?? 0) * lnAge * smoker +
    c.diabetes * (input.diabetes ? 1 : 0);
  return 1 - c.baselineSurvival ** Math.exp(sum - c.meanSum);
}

/** Risk categories of the 2018 AHA/ACC cholesterol guideline. */
export function pceCategory(risk: number): string {
  if (risk < 0.05) return 'low (< 5 %)';
  if (risk < 0.075) return 'borderline (5 – 7.4 %)';
  if (risk < 0.2) return 'intermediate (7.5 – 19.9 %)';
  return 'high (≥ 20 %)';
}

// ---- CKD-EPI 2021 creatinine equation (Inker LA et al., N Engl J Med 2021;385:1737–49) ------------

export interface CkdEpiCoefficients {
  factor: number;
  kappaFemale: number;
  kappaMale: number;
  alphaFemale: number;
  alphaMale: number;
  /** Exponent of max(Scr/κ, 1). */
  beta: number;
  agePerYear: number;
  female: number;
}

export const CKD_EPI_2021: CkdEpiCoefficients = {
  factor: 142,
  kappaFemale: 0.7,
  kappaMale: 0.9,
  alphaFemale: -0.241,
  alphaMale: -0.302,
  beta: -1.2,
  agePerYear: 0.9938,
  female: 1.012,
};

/** eGFR in mL/min/1.73 m² from serum creatinine in mg/dL (no race term). */
export function ckdEpi2021(
  creatinineMgDl: number,
  age: number,
  female: boolean,
  c: CkdEpiCoefficients = CKD_EPI_2021,
): number {
  const ratio = creatinineMgDl / (female ? c.kappaFemale : c.kappaMale);
  return (
    c.factor *
    Math.min(ratio, 1) ** (female ? c.alphaFemale : c.alphaMale) *
    Math.max(ratio, 1) ** c.beta *
    c.agePerYear ** age *
    (female ? c.female : 1)
  );
}

/** KDIGO 2012 GFR category. */
export function kdigoStage(egfr: number): string {
  if (egfr >= 90) return 'G1';
  if (egfr >= 60) return 'G2';
  if (egfr >= 45) return 'G3a';
  if (egfr >= 30) return 'G3b';
  if (egfr >= 15) return 'G4';
  return 'G5';
}

const KDIGO_NAMES: Record<string, string> = {
  G1: 'normal or high',
  G2: 'mildly decreased',
  G3a: 'mildly to moderately decreased',
  G3b: 'moderately to severely decreased',
  G4: 'severely decreased',
  G5: 'kidney failure',
};

// ---- Features, read from the chart like the trained models' ------------------------------------

/**
 * RxNorm clinical drugs that count as antihypertensive treatment. A short list (the ones Synthea
 * prescribes for hypertension and their common strengths), not a drug-class lookup: a chart whose
 * antihypertensive is not listed reads as untreated.
 */
export const ANTIHYPERTENSIVES: readonly string[] = [
  '314076', // lisinopril 10 MG Oral Tablet
  '310798', // hydrochlorothiazide 25 MG Oral Tablet
  '197361', // amlodipine 5 MG Oral Tablet
  '308136', // amlodipine 2.5 MG Oral Tablet
];

/** Tobacco smoking status (LOINC 72166-2) values, SNOMED CT. */
export const CURRENT_SMOKER = [
  '449868002', // current every day smoker
  '428041000124106', // current some day smoker
  '77176002', // smoker, current status unknown
  '428061000124105', // heavy tobacco smoker
  '428071000124103', // light tobacco smoker
  '65568007', // cigarette smoker
];
export const NOT_SMOKER = [
  '266919005', // never smoked tobacco
  '8517006', // ex-smoker
];

/** Clinical ASCVD (SNOMED CT): coronary heart disease, myocardial infarction, stroke, PAD. */
export const CLINICAL_ASCVD = [
  '53741008', // coronary arteriosclerosis (Synthea: "Coronary Heart Disease")
  '22298006', // myocardial infarction
  '399211009', // history of myocardial infarction
  '230690007', // cerebrovascular accident
  '399957001', // peripheral arterial occlusive disease
];

const age = (range: [number, number]): FeatureSpec => ({
  name: 'age',
  description: 'age',
  unit: 'a',
  kind: 'count',
  range,
  chart: { kind: 'age' },
});
const sex: FeatureSpec = {
  name: 'sex',
  description: '1 = male, 0 = female',
  unit: '1',
  kind: 'binary',
  range: [0, 1],
  chart: { kind: 'sex' },
};

/** In PCE_PREDICTOR's order. Ranges are the ones the equations were validated on. */
export const PCE_FEATURES: readonly FeatureSpec[] = [
  age([40, 79]),
  sex,
  flag('african_american', 'African American (1) or any other race (0: the white equations)', {
    kind: 'race',
  }),
  {
    name: 'total_cholesterol',
    description: 'serum total cholesterol',
    unit: 'mg/dL',
    kind: 'continuous',
    range: [130, 320],
    chart: { kind: 'observation', loinc: ['2093-3'], units: cholesterolUnits },
  },
  {
    name: 'hdl_cholesterol',
    description: 'HDL cholesterol',
    unit: 'mg/dL',
    kind: 'continuous',
    range: [20, 100],
    chart: { kind: 'observation', loinc: ['2085-9'], units: cholesterolUnits },
  },
  {
    name: 'systolic_bp',
    description: 'systolic blood pressure',
    unit: 'mm[Hg]',
    kind: 'continuous',
    range: [90, 200],
    chart: systolic,
  },
  flag('treated_hypertension', 'on antihypertensive medication (1 = yes)', {
    kind: 'medication',
    rxnorm: ANTIHYPERTENSIVES,
  }),
  flag('diabetes', 'diabetes mellitus', DIABETES),
  flag('smoker', 'current smoker (1 = yes)', {
    kind: 'coded-observation',
    loinc: ['72166-2'],
    positive: CURRENT_SMOKER,
    negative: NOT_SMOKER,
  }),
];

export const EGFR_FEATURES: readonly FeatureSpec[] = [
  age([18, 120]),
  sex,
  {
    name: 'creatinine',
    description: 'serum creatinine (IDMS-traceable)',
    unit: 'mg/dL',
    kind: 'continuous',
    range: [0.1, 30],
    chart: { kind: 'observation', loinc: ['2160-0', '38483-4'], units: creatinineUnits },
  },
];

export interface EquationSpec {
  modelId: string;
  equation: EquationId;
  title: string;
  reference: string;
  positive: string;
  population: Population;
  features: readonly FeatureSpec[];
  coefficients: unknown;
  output: { kind: 'probability' | 'value'; unit: string; description: string };
  /** What is known of its accuracy and calibration: published, since no outcome data is here. */
  validation: string;
}

export const EQUATIONS: readonly EquationSpec[] = [
  {
    modelId: 'ascvd-pce',
    equation: 'pooled-cohort-2013',
    title: 'ACC/AHA Pooled Cohort Equations (10-year ASCVD risk)',
    reference:
      'Goff DC Jr et al. 2013 ACC/AHA Guideline on the Assessment of Cardiovascular Risk. Circulation 2014;129(25 Suppl 2):S49–S73, Table A',
    positive: '10-year ASCVD risk ≥ 7.5 %',
    population: {
      age: [40, 79],
      // The equations estimate a first event: they are not for patients who already have ASCVD.
      excludedBy: { snomed: CLINICAL_ASCVD, description: 'clinical ASCVD already on the problem list' },
      description:
        'adults aged 40–79 without ASCVD; white and African American coefficients, the white ones for other races',
    },
    features: PCE_FEATURES,
    coefficients: PCE_COEFFICIENTS,
    output: { kind: 'probability', unit: '%', description: '10-year risk of a first hard ASCVD event' },
    validation:
      'Published: C statistics 0.71–0.82 across the four sex–race groups of the pooled derivation cohorts ' +
      '(ARIC, CHS, CARDIA, Framingham); later cohorts found it over-estimates risk. Not re-measured here: ' +
      'no outcome data.',
  },
  {
    modelId: 'egfr-ckd-epi-2021',
    equation: 'ckd-epi-2021-creatinine',
    title: 'CKD-EPI 2021 creatinine eGFR (race-free) with KDIGO G category',
    reference:
      'Inker LA et al. New creatinine- and cystatin C–based equations to estimate GFR without race. N Engl J Med 2021;385:1737–49',
    positive: 'eGFR < 60 mL/min/1.73 m² (KDIGO G3a–G5)',
    population: {
      age: [18, 120],
      description: 'adults (18 and over); not for children, pregnancy or acute kidney injury',
    },
    features: EGFR_FEATURES,
    coefficients: CKD_EPI_2021,
    output: { kind: 'value', unit: 'mL/min/{1.73_m2}', description: 'estimated GFR' },
    validation:
      'Published: bias and P30 against measured GFR in 12 validation studies (4,050 participants) are ' +
      'reported by Inker et al. 2021. Not re-measured here: no measured GFR in the data.',
  },
];

export function isEquation(id: string): id is EquationId {
  return id === 'pooled-cohort-2013' || id === 'ckd-epi-2021-creatinine';
}

/** Rebuilds an equation over raw feature values (the artifact's preprocessing is the identity). */
export function equationPredictor(equation: EquationId, coefficients: unknown): EquationPredictor {
  const zero = (z: readonly number[]) => z.map(() => 0);
  if (equation === 'pooled-cohort-2013') {
    const table = coefficients as Record<PceGroup, PceCoefficients>;
    const risk = (z: readonly number[]) =>
      pooledCohortRisk(
        {
          age: z[0],
          female: z[1] === 0,
          africanAmerican: z[2] === 1,
          totalCholesterol: z[3],
          hdl: z[4],
          systolic: z[5],
          treatedHypertension: z[6] === 1,
          diabetes: z[7] === 1,
          smoker: z[8] === 1,
        },
        table,
      );
    return {
      probability: risk,
      contributions: zero,
      output: (z) => {
        const p = risk(z);
        return {
          value: 100 * p,
          unit: '%',
          category: pceCategory(p),
          label: p >= 0.075 ? 1 : 0,
          probability: p,
        };
      },
    };
  }
  const c = coefficients as CkdEpiCoefficients;
  const egfr = (z: readonly number[]) => ckdEpi2021(z[2], z[0], z[1] === 0, c);
  return {
    probability: () => NaN,
    contributions: zero,
    output: (z) => {
      const value = egfr(z);
      const stage = kdigoStage(value);
      return {
        value,
        unit: 'mL/min/{1.73_m2}',
        category: `${stage}: ${KDIGO_NAMES[stage]}`,
        label: value < 60 ? 1 : 0,
        probability: null,
      };
    },
  };
}
