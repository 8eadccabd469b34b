import type { Predictor } from './algorithms/types.js';
import { fitPlatt } from './algorithms/svm.js';
import { logit } from './algorithms/types.js';

/**
 * Platt scaling of a model's log-odds, P = 1 / (1 + exp(A·logit(p) + B)), fitted on out-of-fold
 * predictions of the training rows only (an inner CV), never on rows the model is tested on.
 */
export interface PlattCalibration {
  method: 'platt';
  A: number;
  B: number;
}

export function fitPlattCalibration(p: readonly number[], y: readonly number[]): PlattCalibration {
  const { A, B } = fitPlatt(
    p.map((v) => logit(v)),
    y,
  );
  return { method: 'platt', A, B };
}

/** The predictor with calibrated probabilities; contributions (log-odds) scale by the same slope. */
export function calibrated(
  predictor: Predictor,
  calibration: PlattCalibration | null | undefined,
): Predictor {
  if (!calibration) return predictor;
  const { A, B } = calibration;
  return {
    probability: (z) => 1 / (1 + Math.exp(A * logit(predictor.probability(z)) + B)),
    contributions: (z) => predictor.contributions(z).map((c) => -A * c),
  };
}

/** One risk decile: the rows whose predicted probability ranks in that tenth. */
export interface ReliabilityBin {
  decile: number;
  n: number;
  meanPredicted: number;
  observedRate: number;
}

/**
 * Predicted vs observed rate per decile of predicted risk (Hosmer–Lemeshow grouping): rows sorted by
 * probability (ties by position), cut into 10 groups whose sizes differ by at most one.
 */
export function reliabilityTable(y: readonly number[], p: readonly number[], groups = 10): ReliabilityBin[] {
  if (y.length !== p.length) throw new Error('labels and probabilities differ in length');
  const order = p.map((_, i) => i).sort((a, b) => p[a] - p[b] || a - b);
  const bins: ReliabilityBin[] = [];
  for (let g = 0; g < groups; g++) {
    const members = order.slice(
      Math.floor((g * order.length) / groups),
      Math.floor(((g + 1) * order.length) / groups),
    );
    if (members.length === 0) continue;
    bins.push({
      decile: g + 1,
      n: members.length,
      meanPredicted: members.reduce((s, i) => s + p[i], 0) / members.length,
      observedRate: members.reduce((s, i) => s + y[i], 0) / members.length,
    });
  }
  return bins;
}

/** Mean squared error of the probabilities over all rows. */
export function brierScore(y: readonly number[], p: readonly number[]): number {
  return y.reduce((s, label, i) => s + (p[i] - label) ** 2, 0) / y.length;
}

/** Fold predictions are stored rounded so that the stored numbers reproduce the card's tables. */
export function roundProbability(p: number): number {
  return Number(p.toFixed(6));
}
