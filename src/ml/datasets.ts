import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { BadUserInputError, IntegrityError } from '../errors.js';
import {
  CKD_FEATURES,
  CLEVELAND_FEATURES,
  PIMA_FEATURES,
  WDBC_FEATURES,
  isRoutineChartFeature,
  type FeatureSpec,
} from './features.js';

export interface DatasetSpec {
  /** Short id used in model ids (`wdbc-svm`). */
  id: string;
  title: string;
  /** CSV file name inside the data directory. */
  file: string;
  /** sha256 of the CSV bytes; loading refuses any other content. */
  sha256: string;
  /** What label 1 means. */
  positive: string;
  features: readonly FeatureSpec[];
  /** Refuse predictions from a chart when more than this share of features is missing. */
  maxMissingFraction: number;
  /** Who the training rows describe: a chart outside this does not get the model's answer. */
  population: Population;
  /**
   * A chart-native variant: the columns of dataset `base` that routine charts carry, read from the
   * base's file (same rows, labels and therefore the same CV folds as the full-feature model).
   */
  base?: string;
}

export interface Population {
  /** Ages (whole years) of the training rows, inclusive. */
  age?: readonly [number, number];
  /** Set when every training row is of one sex. */
  sex?: 'female' | 'male';
  /** Patients with an active Condition carrying one of these SNOMED CT codes are outside it. */
  excludedBy?: { snomed: readonly string[]; description: string };
  description: string;
}

const FULL_DATASETS: readonly DatasetSpec[] = [
  {
    id: 'wdbc',
    title: 'Breast Cancer Wisconsin (Diagnostic)',
    file: 'wdbc.csv',
    sha256: '9b769fef32960b47616e33f61bee9a3bedcdd00c85fceb2b9316c8fda470b129',
    positive: 'malignant',
    features: WDBC_FEATURES,
    maxMissingFraction: 0.2,
    population: { description: 'breast masses sampled by fine-needle aspiration (Wisconsin, 1990s)' },
  },
  {
    id: 'pima',
    title: 'Pima Indians Diabetes',
    file: 'pima_diabetes.csv',
    sha256: '3fe2ca2180fe18e8604afbea4a445103bd574de5befd753007e7a81563b21bbe',
    positive: 'diabetes',
    features: PIMA_FEATURES,
    maxMissingFraction: 0.4,
    population: { age: [21, 81], sex: 'female', description: 'women of Pima heritage aged 21–81' },
  },
  {
    id: 'cleveland',
    title: 'Heart Disease (Cleveland)',
    file: 'heart_cleveland.csv',
    sha256: '0fc138dbbf77f4afdee125cf8c0f9b11405f4329b386426d8ccc0381d7528e96',
    positive: 'coronary artery disease (> 50% narrowing)',
    features: CLEVELAND_FEATURES,
    maxMissingFraction: 0.4,
    population: { age: [29, 77], description: 'adults aged 29–77 referred for coronary angiography' },
  },
  {
    id: 'ckd',
    title: 'Chronic Kidney Disease',
    file: 'ckd.csv',
    sha256: '3885e046c416074eafbacdb52fdaea764b4c5033f1b33b21c4cc66a7ffe4a680',
    positive: 'chronic kidney disease',
    features: CKD_FEATURES,
    maxMissingFraction: 0.4,
    population: { age: [2, 90], description: 'hospital patients aged 2–90 (Tamil Nadu, India)' },
  },
];

/** WDBC has none: no feature of a cytology image is in a routine chart. */
export const CHART_NATIVE_BASES = ['pima', 'cleveland', 'ckd'] as const;

/** `<base>-chart`: the base dataset restricted to the features routine charts carry. */
export function chartNativeSpec(base: DatasetSpec): DatasetSpec {
  return {
    ...base,
    id: `${base.id}-chart`,
    title: `${base.title}, chart-native features`,
    features: base.features.filter(isRoutineChartFeature),
    base: base.id,
  };
}

export const DATASETS: readonly DatasetSpec[] = [
  ...FULL_DATASETS,
  ...CHART_NATIVE_BASES.map((id) => chartNativeSpec(FULL_DATASETS.find((d) => d.id === id)!)),
];

export function datasetSpec(id: string): DatasetSpec {
  const spec = DATASETS.find((d) => d.id === id);
  if (!spec) {
    throw new BadUserInputError(`unknown dataset: ${id}`, {
      dataset: id,
      known: DATASETS.map((d) => d.id),
    });
  }
  return spec;
}

/** Rows as numbers, NaN for missing cells; labels 0/1. */
export interface Dataset {
  spec: DatasetSpec;
  X: number[][];
  y: number[];
  sha256: string;
}

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The data directory shipped with the project (`<repo>/data`), from src/ml or dist/src/ml. */
export function defaultDataDir(): string {
  return path.resolve(
    import.meta.dirname,
    '..',
    '..',
    ...(import.meta.dirname.includes(`${path.sep}dist${path.sep}`) ? ['..'] : []),
    'data',
  );
}

/** Reads a dataset, verifies its sha256, parses it (empty cell = missing; Pima zeros → missing). */
export async function loadDataset(id: string, dataDir = defaultDataDir()): Promise<Dataset> {
  const spec = datasetSpec(id);
  if (spec.base) {
    const full = await loadDataset(spec.base, dataDir);
    const columns = spec.features.map((f) => full.spec.features.findIndex((g) => g.name === f.name));
    return { spec, X: full.X.map((row) => columns.map((j) => row[j])), y: full.y, sha256: full.sha256 };
  }
  const bytes = await readFile(path.join(dataDir, spec.file));
  const actual = sha256Hex(bytes);
  if (actual !== spec.sha256) {
    throw new IntegrityError(
      `dataset ${spec.id} (${spec.file}) has sha256 ${actual}, expected ${spec.sha256}: the file was changed or replaced`,
    );
  }
  return { spec, ...parseDatasetCsv(spec, bytes.toString('utf8')), sha256: actual };
}

/** Parses a CSV whose header is the spec's feature names followed by `label`. */
export function parseDatasetCsv(spec: DatasetSpec, text: string): { X: number[][]; y: number[] } {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  const header = lines[0].split(',').map((h) => h.trim());
  const expected = [...spec.features.map((f) => f.name), 'label'];
  if (header.join(',') !== expected.join(',')) {
    throw new IntegrityError(`dataset ${spec.id}: header ${header.join(',')} is not ${expected.join(',')}`);
  }
  const X: number[][] = [];
  const y: number[] = [];
  for (let i = 1; i < lines.length; i++) {
    const cells = lines[i].split(',');
    if (cells.length !== expected.length) {
      throw new IntegrityError(
        `dataset ${spec.id} line ${i + 1}: ${cells.length} cells, expected ${expected.length}`,
      );
    }
    const row = spec.features.map((feature, j) => {
      const cell = cells[j].trim();
      if (cell === '') return NaN;
      const value = Number(cell);
      if (!Number.isFinite(value)) {
        throw new IntegrityError(
          `dataset ${spec.id} line ${i + 1}: ${feature.name} is not a number: ${cell}`,
        );
      }
      return feature.zeroMeansMissing && value === 0 ? NaN : value;
    });
    const label = Number(cells[cells.length - 1]);
    if (label !== 0 && label !== 1)
      throw new IntegrityError(`dataset ${spec.id} line ${i + 1}: label ${label}`);
    X.push(row);
    y.push(label);
  }
  return { X, y };
}
