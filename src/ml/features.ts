/**
 * Feature metadata: what each model input means, its unit, the range a real patient can have, and — for
 * inputs a chart can supply — where in FHIR it comes from and how to convert units into the model's unit.
 *
 * Longer than 400 lines because it is a table: one entry per input of every dataset, read as data.
 */

/** UCUM unit code → factor that converts a value in that unit into the feature's unit. */
export type UnitFactors = Readonly<Record<string, number>>;

export type ChartSource =
  /** Latest Observation (or Observation.component) with one of these LOINC codes. */
  | {
      kind: 'observation';
      loinc: readonly string[];
      units: UnitFactors;
      /** Turns the converted value into a 0/1 flag: 1 when value > threshold. */
      above?: number;
    }
  /** Whole years between Patient.birthDate and the prediction time. */
  | { kind: 'age' }
  /** Patient.gender: male → 1, female → 0 (others: missing). */
  | { kind: 'sex' }
  /** 1 when an active Condition carries one of these SNOMED CT codes, else 0. */
  | { kind: 'condition'; snomed: readonly string[] }
  /** 1 when the US Core race extension names Black or African American (OMB 2054-5), else 0. */
  | { kind: 'race' }
  /** 1 when an active MedicationRequest or MedicationStatement has one of these RxNorm codes, else 0. */
  | { kind: 'medication'; rxnorm: readonly string[] }
  /**
   * The latest Observation with one of these LOINC codes whose SNOMED-coded value is in `positive`
   * (→ 1) or `negative` (→ 0); other values (e.g. "unknown if ever smoked") leave it missing.
   */
  | {
      kind: 'coded-observation';
      loinc: readonly string[];
      positive: readonly string[];
      negative: readonly string[];
    };

export interface FeatureSpec {
  name: string;
  description: string;
  /** UCUM code of the model's unit ('1' for dimensionless, curly braces for annotations). */
  unit: string;
  kind: 'continuous' | 'count' | 'ordinal' | 'binary';
  /** Values outside this closed range are refused as implausible input. */
  range: readonly [number, number];
  /**
   * Read 0 as missing. Not used for Pima: its zeros stay values, as in the shared benchmark — treating
   * them as missing cost 0.7 points of CV accuracy against scikit-learn on the same folds.
   */
  zeroMeansMissing?: boolean;
  /** Apply log(1 + x) before standardizing (tried on WDBC: it lowered SVM accuracy, so unused). */
  log?: boolean;
  chart?: ChartSource;
  /**
   * false: the chart has a code for it, but routine charts rarely carry it, so chart-native variants
   * leave it out (it would mostly be imputed).
   */
  routine?: false;
}

/** Chart-native variants keep the features a routine chart carries: coded, and not marked rare. */
export function isRoutineChartFeature(feature: FeatureSpec): boolean {
  return feature.chart !== undefined && feature.routine !== false;
}

export const LOINC_SYSTEM = 'http://loinc.org';
export const SNOMED_SYSTEM = 'http://snomed.info/sct';
export const UCUM_SYSTEM = 'http://unitsofmeasure.org';
export const RXNORM_SYSTEM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
export const US_CORE_RACE = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race';
/** OMB race category "Black or African American" (urn:oid:2.16.840.1.113883.6.238). */
export const AFRICAN_AMERICAN = '2054-5';

// Unit conversions into the datasets' conventional units (mg/dL etc.).
const glucoseUnits: UnitFactors = { 'mg/dL': 1, 'mmol/L': 18.016 };
export const cholesterolUnits: UnitFactors = { 'mg/dL': 1, 'mmol/L': 38.67 };
export const creatinineUnits: UnitFactors = { 'mg/dL': 1, 'umol/L': 1 / 88.4 };
const pressureUnits: UnitFactors = { 'mm[Hg]': 1 };

const glucose = (above?: number): ChartSource => ({
  kind: 'observation',
  loinc: ['2345-7', '1558-6', '2339-0'],
  units: glucoseUnits,
  above,
});
export const systolic: ChartSource = { kind: 'observation', loinc: ['8480-6'], units: pressureUnits };
const diastolic: ChartSource = { kind: 'observation', loinc: ['8462-4'], units: pressureUnits };

const wdbcBase: [string, string, string, number, number][] = [
  // name, description, unit, max of the mean, max of the worst (plausible upper bounds: 2 × dataset max)
  ['radius', 'mean distance from centre to perimeter points', '{px}', 28.11, 36.04],
  ['texture', 'standard deviation of gray-scale values', '1', 39.28, 49.54],
  ['perimeter', 'perimeter of the nucleus', '{px}', 188.5, 251.2],
  ['area', 'area of the nucleus', '{px2}', 2501, 4254],
  ['smoothness', 'local variation in radius lengths', '1', 0.1634, 0.2226],
  ['compactness', 'perimeter² / area − 1', '1', 0.3454, 1.058],
  ['concavity', 'severity of concave portions of the contour', '1', 0.4268, 1.252],
  ['concave_points', 'number of concave portions of the contour', '1', 0.2012, 0.291],
  ['symmetry', 'symmetry of the nucleus', '1', 0.304, 0.6638],
  ['fractal_dimension', '"coastline approximation" − 1', '1', 0.09744, 0.2075],
];
const wdbcSeMax: Record<string, number> = {
  radius: 2.873,
  texture: 4.885,
  perimeter: 21.98,
  area: 542.2,
  smoothness: 0.03113,
  compactness: 0.1354,
  concavity: 0.396,
  concave_points: 0.05279,
  symmetry: 0.07895,
  fractal_dimension: 0.02984,
};

function wdbcFeatures(): FeatureSpec[] {
  const make = (suffix: 'mean' | 'se' | 'worst'): FeatureSpec[] =>
    wdbcBase.map(([base, description, unit, meanMax, worstMax]) => {
      const max = suffix === 'mean' ? meanMax : suffix === 'worst' ? worstMax : wdbcSeMax[base];
      const label =
        suffix === 'se' ? 'standard error of the' : suffix === 'worst' ? 'largest (worst)' : 'mean';
      return {
        name: `${base}_${suffix}`,
        description: `${label} ${description} (fine-needle aspirate image)`,
        unit,
        kind: 'continuous',
        range: [0, Number((2 * max).toPrecision(4))],
      };
    });
  return [...make('mean'), ...make('se'), ...make('worst')];
}

export const WDBC_FEATURES: readonly FeatureSpec[] = wdbcFeatures();

export const PIMA_FEATURES: readonly FeatureSpec[] = [
  {
    name: 'pregnancies',
    description: 'number of times pregnant',
    unit: '{#}',
    kind: 'count',
    range: [0, 25],
    chart: { kind: 'observation', loinc: ['11996-6'], units: { '{#}': 1, '1': 1 } },
    // Obstetric history, seldom coded as an Observation.
    routine: false,
  },
  {
    name: 'glucose',
    description: 'plasma glucose 2 h into an oral glucose tolerance test',
    unit: 'mg/dL',
    kind: 'continuous',
    range: [20, 700],
    chart: glucose(),
  },
  {
    name: 'blood_pressure',
    description: 'diastolic blood pressure',
    unit: 'mm[Hg]',
    kind: 'continuous',
    range: [20, 200],
    chart: diastolic,
  },
  {
    name: 'skin_thickness',
    description: 'triceps skin fold thickness',
    unit: 'mm',
    kind: 'continuous',
    range: [1, 120],
  },
  {
    name: 'insulin',
    description: '2-hour serum insulin',
    unit: 'u[IU]/mL',
    kind: 'continuous',
    range: [1, 1500],
    chart: { kind: 'observation', loinc: ['20448-7'], units: { 'u[IU]/mL': 1, 'm[IU]/L': 1 } },
    // A glucose-tolerance research measure, not a routine lab.
    routine: false,
  },
  {
    name: 'bmi',
    description: 'body mass index',
    unit: 'kg/m2',
    kind: 'continuous',
    range: [10, 90],
    chart: { kind: 'observation', loinc: ['39156-5'], units: { 'kg/m2': 1 } },
  },
  {
    name: 'diabetes_pedigree',
    description: 'diabetes pedigree function (family history score)',
    unit: '1',
    kind: 'continuous',
    range: [0, 3],
  },
  { name: 'age', description: 'age', unit: 'a', kind: 'count', range: [18, 120], chart: { kind: 'age' } },
];

export const CLEVELAND_FEATURES: readonly FeatureSpec[] = [
  { name: 'age', description: 'age', unit: 'a', kind: 'count', range: [18, 120], chart: { kind: 'age' } },
  {
    name: 'sex',
    description: '1 = male, 0 = female',
    unit: '1',
    kind: 'binary',
    range: [0, 1],
    chart: { kind: 'sex' },
  },
  {
    name: 'cp',
    description: 'chest pain type (1 typical angina, 2 atypical, 3 non-anginal, 4 asymptomatic)',
    unit: '1',
    kind: 'ordinal',
    range: [1, 4],
  },
  {
    name: 'trestbps',
    description: 'resting systolic blood pressure',
    unit: 'mm[Hg]',
    kind: 'continuous',
    range: [60, 260],
    chart: systolic,
  },
  {
    name: 'chol',
    description: 'serum total cholesterol',
    unit: 'mg/dL',
    kind: 'continuous',
    range: [50, 800],
    chart: { kind: 'observation', loinc: ['2093-3'], units: cholesterolUnits },
  },
  {
    name: 'fbs',
    description: 'fasting blood sugar > 120 mg/dL (1 = true)',
    unit: '1',
    kind: 'binary',
    range: [0, 1],
    chart: { kind: 'observation', loinc: ['1558-6'], units: glucoseUnits, above: 120 },
  },
  {
    name: 'restecg',
    description: 'resting ECG (0 normal, 1 ST-T abnormality, 2 left ventricular hypertrophy)',
    unit: '1',
    kind: 'ordinal',
    range: [0, 2],
  },
  {
    name: 'thalach',
    description: 'maximum heart rate reached in the exercise test',
    unit: '/min',
    kind: 'continuous',
    range: [40, 250],
  },
  {
    name: 'exang',
    description: 'exercise-induced angina (1 = yes)',
    unit: '1',
    kind: 'binary',
    range: [0, 1],
  },
  {
    name: 'oldpeak',
    description: 'ST depression induced by exercise relative to rest',
    unit: 'mm',
    kind: 'continuous',
    range: [0, 10],
  },
  {
    name: 'slope',
    description: 'slope of the peak exercise ST segment (1 up, 2 flat, 3 down)',
    unit: '1',
    kind: 'ordinal',
    range: [1, 3],
  },
  {
    name: 'ca',
    description: 'number of major vessels coloured by fluoroscopy',
    unit: '{#}',
    kind: 'count',
    range: [0, 3],
  },
  {
    name: 'thal',
    description: 'thallium scan (3 normal, 6 fixed defect, 7 reversible defect)',
    unit: '1',
    kind: 'ordinal',
    range: [3, 7],
  },
];

export const DIABETES: ChartSource = { kind: 'condition', snomed: ['73211009', '44054006', '46635009'] };

export const flag = (name: string, description: string, chart?: ChartSource): FeatureSpec => ({
  name,
  description,
  unit: '1',
  kind: 'binary',
  range: [0, 1],
  chart,
});

export const CKD_FEATURES: readonly FeatureSpec[] = [
  { name: 'age', description: 'age', unit: 'a', kind: 'count', range: [0, 120], chart: { kind: 'age' } },
  {
    name: 'bp',
    description: 'blood pressure (diastolic)',
    unit: 'mm[Hg]',
    kind: 'continuous',
    range: [20, 200],
    chart: diastolic,
  },
  {
    name: 'sg',
    description: 'urine specific gravity',
    unit: '1',
    kind: 'ordinal',
    range: [1.0, 1.05],
    chart: { kind: 'observation', loinc: ['5811-5', '2965-2'], units: { '1': 1, '{SG}': 1 } },
  },
  {
    name: 'al',
    description: 'urine albumin (dipstick grade 0–5)',
    unit: '1',
    kind: 'ordinal',
    range: [0, 5],
  },
  { name: 'su', description: 'urine sugar (dipstick grade 0–5)', unit: '1', kind: 'ordinal', range: [0, 5] },
  flag('rbc', 'red blood cells in urine abnormal'),
  flag('pc', 'pus cells in urine abnormal'),
  flag('pcc', 'pus cell clumps present'),
  flag('ba', 'bacteria present in urine'),
  {
    name: 'bgr',
    description: 'blood glucose, random',
    unit: 'mg/dL',
    kind: 'continuous',
    range: [20, 800],
    chart: glucose(),
  },
  {
    name: 'bu',
    description: 'blood urea',
    unit: 'mg/dL',
    kind: 'continuous',
    range: [1, 500],
    // Urea nitrogen (BUN, 3094-0) → urea: × 60/28 (urea carries two nitrogen atoms).
    chart: { kind: 'observation', loinc: ['3091-6', '3094-0'], units: { 'mg/dL': 1, 'mmol/L': 6.006 } },
  },
  {
    name: 'sc',
    description: 'serum creatinine',
    unit: 'mg/dL',
    kind: 'continuous',
    range: [0.1, 80],
    chart: { kind: 'observation', loinc: ['2160-0', '38483-4'], units: creatinineUnits },
  },
  {
    name: 'sod',
    description: 'serum sodium',
    unit: 'meq/L',
    kind: 'continuous',
    range: [90, 200],
    chart: { kind: 'observation', loinc: ['2951-2', '2947-0'], units: { 'mmol/L': 1, 'meq/L': 1 } },
  },
  {
    name: 'pot',
    description: 'serum potassium',
    unit: 'meq/L',
    kind: 'continuous',
    range: [1, 50],
    chart: { kind: 'observation', loinc: ['2823-3', '6298-4'], units: { 'mmol/L': 1, 'meq/L': 1 } },
  },
  {
    name: 'hemo',
    description: 'haemoglobin',
    unit: 'g/dL',
    kind: 'continuous',
    range: [2, 25],
    chart: { kind: 'observation', loinc: ['718-7'], units: { 'g/dL': 1, 'g/L': 0.1, 'mmol/L': 1.611 } },
  },
  {
    name: 'pcv',
    description: 'packed cell volume (haematocrit)',
    unit: '%',
    kind: 'continuous',
    range: [5, 75],
    chart: { kind: 'observation', loinc: ['4544-3', '20570-8'], units: { '%': 1, 'L/L': 100 } },
  },
  {
    name: 'wc',
    description: 'white blood cell count',
    unit: '/uL',
    kind: 'continuous',
    range: [500, 100000],
    chart: {
      kind: 'observation',
      loinc: ['6690-2', '26464-8'],
      units: { '/uL': 1, '10*3/uL': 1000, '10*9/L': 1000 },
    },
  },
  {
    name: 'rc',
    description: 'red blood cell count',
    unit: '10*6/uL',
    kind: 'continuous',
    range: [1, 10],
    chart: { kind: 'observation', loinc: ['789-8', '26453-1'], units: { '10*6/uL': 1, '10*12/L': 1 } },
  },
  flag('htn', 'hypertension', { kind: 'condition', snomed: ['38341003', '59621000'] }),
  flag('dm', 'diabetes mellitus', DIABETES),
  flag('cad', 'coronary artery disease', { kind: 'condition', snomed: ['53741008'] }),
  flag('appet', 'poor appetite'),
  flag('pe', 'pedal oedema'),
  flag('ane', 'anaemia', { kind: 'condition', snomed: ['271737000'] }),
];
