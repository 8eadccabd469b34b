import type { FeatureSpec } from './features.js';

/** Fitted preprocessing: optional log1p, impute, standardize. Plain data so it serializes into artifacts. */
export interface Preprocessor {
  features: string[];
  log: boolean[];
  /** Imputed value per feature, in the original unit (median, or the most frequent value for discrete features). */
  impute: number[];
  /** Mean and standard deviation after log and imputation. */
  mean: number[];
  scale: number[];
}

/** Fits on the given rows only — callers pass training rows, never test rows. */
export function fitPreprocessor(
  features: readonly FeatureSpec[],
  X: readonly (readonly number[])[],
): Preprocessor {
  const d = features.length;
  const impute: number[] = [];
  for (let j = 0; j < d; j++) {
    const present = X.map((row) => row[j]).filter((v) => !Number.isNaN(v));
    if (present.length === 0)
      throw new Error(`feature ${features[j].name} has no values in the training rows`);
    impute.push(features[j].kind === 'continuous' ? median(present) : mode(present));
  }
  const log = features.map((f) => f.log === true);
  const transformed = X.map((row) => row.map((v, j) => logged(Number.isNaN(v) ? impute[j] : v, log[j])));
  const mean: number[] = [];
  const scale: number[] = [];
  for (let j = 0; j < d; j++) {
    const column = transformed.map((row) => row[j]);
    const m = column.reduce((a, b) => a + b, 0) / column.length;
    const sd = Math.sqrt(column.reduce((a, b) => a + (b - m) ** 2, 0) / column.length);
    mean.push(m);
    scale.push(sd > 1e-12 ? sd : 1);
  }
  return { features: features.map((f) => f.name), log, impute, mean, scale };
}

/** One row → standardized vector; NaN means missing and is imputed. */
export function transformRow(pre: Preprocessor, row: readonly number[]): number[] {
  const out = new Array<number>(row.length);
  for (let j = 0; j < row.length; j++) {
    const v = Number.isNaN(row[j]) ? pre.impute[j] : row[j];
    out[j] = (logged(v, pre.log[j]) - pre.mean[j]) / pre.scale[j];
  }
  return out;
}

export function transformRows(pre: Preprocessor, X: readonly (readonly number[])[]): number[][] {
  return X.map((row) => transformRow(pre, row));
}

function logged(v: number, log: boolean): number {
  return log ? Math.log1p(v) : v;
}

export function median(values: readonly number[]): number {
  const s = values.slice().sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Most frequent value; ties → the smallest. */
export function mode(values: readonly number[]): number {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best = NaN;
  let bestCount = 0;
  for (const [v, c] of [...counts].sort((a, b) => a[0] - b[0])) {
    if (c > bestCount) {
      best = v;
      bestCount = c;
    }
  }
  return best;
}
