import { fitLogistic } from './logistic-regression.js';
import type { Algorithm, Fitted, HyperParameters, Predictor } from './types.js';
import { sigmoid } from './types.js';

/**
 * Logistic regression on degree-2 features: every standardized feature, then every product z_i·z_j
 * with i ≤ j (squares included) in scikit-learn's PolynomialFeatures(2) order, each expanded column
 * standardized again on the training rows. On few features (Pima's chart-native four) the products
 * carry what a linear model misses; on many they mostly add variance, and the tuned C shows it.
 */
export interface QuadraticLogisticState {
  /** Mean and standard deviation of each expanded column on the training rows. */
  mean: number[];
  scale: number[];
  weights: number[];
  intercept: number;
}

/** z followed by z_i·z_j for i ≤ j. */
export function quadraticFeatures(z: readonly number[]): number[] {
  const expanded = z.slice();
  for (let i = 0; i < z.length; i++) for (let j = i; j < z.length; j++) expanded.push(z[i] * z[j]);
  return expanded;
}

/** For each expanded column, the one or two input features it is made of. */
function parentsOf(d: number): [number, number][] {
  const parents: [number, number][] = Array.from({ length: d }, (_, i) => [i, i]);
  for (let i = 0; i < d; i++) for (let j = i; j < d; j++) parents.push([i, j]);
  return parents;
}

export function fitQuadraticLogistic(
  X: readonly (readonly number[])[],
  y: readonly number[],
  C: number,
): QuadraticLogisticState {
  const expanded = X.map(quadraticFeatures);
  const k = expanded[0].length;
  const mean = new Array<number>(k).fill(0);
  const scale = new Array<number>(k).fill(0);
  for (const row of expanded) for (let c = 0; c < k; c++) mean[c] += row[c] / expanded.length;
  for (const row of expanded)
    for (let c = 0; c < k; c++) scale[c] += (row[c] - mean[c]) ** 2 / expanded.length;
  for (let c = 0; c < k; c++) scale[c] = Math.sqrt(scale[c]) || 1;
  const standardized = expanded.map((row) => row.map((v, c) => (v - mean[c]) / scale[c]));
  const { weights, intercept } = fitLogistic(standardized, y, C);
  return { mean, scale, weights, intercept };
}

function predictorOf(state: QuadraticLogisticState): Predictor {
  const { mean, scale, weights, intercept } = state;
  const d = Math.round((-3 + Math.sqrt(9 + 8 * weights.length)) / 2); // k = d + d(d+1)/2
  const parents = parentsOf(d);
  const logOdds = (z: readonly number[]) => {
    const f = quadraticFeatures(z);
    let t = intercept;
    for (let c = 0; c < f.length; c++) t += (weights[c] * (f[c] - mean[c])) / scale[c];
    return t;
  };
  return {
    probability: (z) => sigmoid(logOdds(z)),
    // Relative to the training mean (z = 0, where every expanded column is 0): column c adds
    // w_c·f_c/s_c, given to its feature, or half to each of the two features of a product. The sum is
    // exactly logit p(z) − logit p(0).
    contributions(z) {
      const f = quadraticFeatures(z);
      const out = new Array<number>(d).fill(0);
      for (let c = 0; c < f.length; c++) {
        const share = (weights[c] * f[c]) / scale[c];
        const [i, j] = parents[c];
        if (i === j) out[i] += share;
        else {
          out[i] += share / 2;
          out[j] += share / 2;
        }
      }
      return out;
    },
  };
}

export const quadraticLogisticRegression: Algorithm = {
  id: 'logreg2',
  title: 'L2-regularized logistic regression on degree-2 features',
  engine: 'omnichart (Newton / IRLS)',
  contributionMethod:
    'coefficient × standardized expanded value, products split equally between their two features (log-odds vs the training mean)',
  calibration: 'likelihood',
  // scikit-learn's grid for the same model in bench/sklearn-reference (--beyond-defaults); 0.1 first.
  grid: () => [0.1, 0.003, 0.01, 0.03, 0.3].map((C) => ({ C })),
  async fit(X, y, params: HyperParameters): Promise<Fitted> {
    const state = fitQuadraticLogistic(X, y, Number(params.C));
    return { state, predictor: predictorOf(state) };
  },
  load: (state) => predictorOf(state as QuadraticLogisticState),
};
