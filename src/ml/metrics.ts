/** Binary classification metrics for one test fold; labels 0/1, p = P(label = 1). */
export interface FoldMetrics {
  accuracy: number;
  auc: number;
  sensitivity: number;
  specificity: number;
  brier: number;
}

export const METRIC_NAMES: readonly (keyof FoldMetrics)[] = [
  'accuracy',
  'auc',
  'sensitivity',
  'specificity',
  'brier',
];

export interface Spread {
  mean: number;
  sd: number;
}

export type MetricsSummary = Record<keyof FoldMetrics, Spread>;

export function foldMetrics(y: readonly number[], p: readonly number[]): FoldMetrics {
  let tp = 0;
  let tn = 0;
  let fp = 0;
  let fn = 0;
  let brier = 0;
  for (let i = 0; i < y.length; i++) {
    const predicted = p[i] >= 0.5 ? 1 : 0;
    if (y[i] === 1 && predicted === 1) tp++;
    else if (y[i] === 1) fn++;
    else if (predicted === 1) fp++;
    else tn++;
    brier += (p[i] - y[i]) ** 2;
  }
  return {
    accuracy: (tp + tn) / y.length,
    auc: rocAuc(y, p),
    sensitivity: tp + fn === 0 ? NaN : tp / (tp + fn),
    specificity: tn + fp === 0 ? NaN : tn / (tn + fp),
    brier: brier / y.length,
  };
}

/** Area under the ROC curve = P(score of a positive > score of a negative), ties counting one half. */
export function rocAuc(y: readonly number[], p: readonly number[]): number {
  const order = p.map((_, i) => i).sort((a, b) => p[a] - p[b]);
  // Mid-ranks for ties (Mann–Whitney U).
  const ranks = new Array<number>(p.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && p[order[j + 1]] === p[order[i]]) j++;
    for (let t = i; t <= j; t++) ranks[order[t]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  let positives = 0;
  let rankSum = 0;
  y.forEach((label, i) => {
    if (label === 1) {
      positives++;
      rankSum += ranks[i];
    }
  });
  const negatives = y.length - positives;
  if (positives === 0 || negatives === 0) return NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Mean and sample standard deviation over folds (NaN folds skipped). */
export function summarize(folds: readonly FoldMetrics[]): MetricsSummary {
  const out = {} as MetricsSummary;
  for (const name of METRIC_NAMES) {
    const values = folds.map((f) => f[name]).filter((v) => !Number.isNaN(v));
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, values.length - 1);
    out[name] = { mean, sd: Math.sqrt(variance) };
  }
  return out;
}
