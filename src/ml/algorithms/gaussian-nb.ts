import type { Algorithm, Fitted, Predictor } from './types.js';
import { sigmoid } from './types.js';

export interface GaussianNbState {
  /** Per class (index = label 0, 1): log prior, means, variances (smoothed). */
  logPrior: [number, number];
  mean: [number[], number[]];
  variance: [number[], number[]];
}

/**
 * Gaussian naive Bayes. Variances get scikit-learn's smoothing (1e-9 × the largest feature variance);
 * prediction sums log densities over all features, so nothing underflows.
 */
export function fitGaussianNb(X: readonly (readonly number[])[], y: readonly number[]): GaussianNbState {
  const all = columnStats(X);
  const epsilon = 1e-9 * Math.max(...all.variance);
  const perClass = [0, 1].map((label) => columnStats(X.filter((_, i) => y[i] === label)));
  const counts = [0, 1].map((label) => y.filter((v) => v === label).length);
  if (counts[0] === 0 || counts[1] === 0)
    throw new Error('Gaussian NB needs both classes in the training rows');
  return {
    logPrior: [Math.log(counts[0] / y.length), Math.log(counts[1] / y.length)],
    mean: [perClass[0].mean, perClass[1].mean],
    variance: [perClass[0].variance.map((v) => v + epsilon), perClass[1].variance.map((v) => v + epsilon)],
  };
}

function columnStats(X: readonly (readonly number[])[]): { mean: number[]; variance: number[] } {
  const d = X[0].length;
  const mean = new Array<number>(d).fill(0);
  const variance = new Array<number>(d).fill(0);
  for (const row of X) for (let j = 0; j < d; j++) mean[j] += row[j] / X.length;
  for (const row of X) for (let j = 0; j < d; j++) variance[j] += (row[j] - mean[j]) ** 2 / X.length;
  return { mean, variance };
}

/** log N(x; μ, σ²) */
function logDensity(x: number, mean: number, variance: number): number {
  return -0.5 * Math.log(2 * Math.PI * variance) - ((x - mean) * (x - mean)) / (2 * variance);
}

/** Per-feature log-likelihood ratio log p(x_j | 1) − log p(x_j | 0). */
function featureLlr(state: GaussianNbState, j: number, x: number): number {
  return (
    logDensity(x, state.mean[1][j], state.variance[1][j]) -
    logDensity(x, state.mean[0][j], state.variance[0][j])
  );
}

/** Log posterior odds log P(1 | x) − log P(0 | x). */
export function gaussianNbLogOdds(state: GaussianNbState, z: readonly number[]): number {
  let t = state.logPrior[1] - state.logPrior[0];
  for (let j = 0; j < z.length; j++) t += featureLlr(state, j, z[j]);
  return t;
}

function predictorOf(state: GaussianNbState): Predictor {
  return {
    probability: (z) => sigmoid(gaussianNbLogOdds(state, z)),
    // Relative to the feature sitting at the training mean (0 after standardizing).
    contributions: (z) => z.map((x, j) => featureLlr(state, j, x) - featureLlr(state, j, 0)),
  };
}

export const gaussianNb: Algorithm = {
  id: 'gnb',
  title: 'Gaussian naive Bayes (log space)',
  engine: 'omnichart',
  contributionMethod: 'log-likelihood ratio of the value vs. the training mean (log-odds)',
  calibration: 'platt-inner-cv',
  grid: () => [{ varSmoothing: 1e-9 }],
  async fit(X, y): Promise<Fitted> {
    const state = fitGaussianNb(X, y);
    return { state, predictor: predictorOf(state) };
  },
  load: (state) => predictorOf(state as GaussianNbState),
};
