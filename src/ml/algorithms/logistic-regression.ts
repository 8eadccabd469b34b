import type { Algorithm, Fitted, HyperParameters, Predictor } from './types.js';
import { sigmoid } from './types.js';

export interface LogisticState {
  weights: number[];
  intercept: number;
}

/**
 * L2-regularized logistic regression fitted by Newton's method (IRLS) with step halving:
 * minimizes Σ log-loss + (1 / 2C)·‖w‖², intercept unpenalized — scikit-learn's objective for the same C.
 */
export function fitLogistic(
  X: readonly (readonly number[])[],
  y: readonly number[],
  C: number,
  options: { maxIterations?: number; tolerance?: number } = {},
): LogisticState & { iterations: number } {
  const { maxIterations = 100, tolerance = 1e-10 } = options;
  const n = X.length;
  const d = X[0].length;
  const lambda = 1 / C;
  // beta[0] is the intercept.
  let beta = new Array<number>(d + 1).fill(0);
  const objective = (b: number[]) => {
    let loss = 0;
    for (let i = 0; i < n; i++) {
      const t = linear(b, X[i]);
      // log(1 + e^t) − y·t, computed stably.
      loss += (t > 0 ? t + Math.log1p(Math.exp(-t)) : Math.log1p(Math.exp(t))) - y[i] * t;
    }
    let penalty = 0;
    for (let j = 1; j <= d; j++) penalty += b[j] * b[j];
    return loss + (lambda / 2) * penalty;
  };
  let current = objective(beta);
  let iterations = 0;
  for (; iterations < maxIterations; iterations++) {
    const gradient = new Array<number>(d + 1).fill(0);
    const hessian = Array.from({ length: d + 1 }, () => new Array<number>(d + 1).fill(0));
    for (let i = 0; i < n; i++) {
      const row = X[i];
      const p = sigmoid(linear(beta, row));
      const w = Math.max(p * (1 - p), 1e-12);
      const r = p - y[i];
      for (let a = 0; a <= d; a++) {
        const xa = a === 0 ? 1 : row[a - 1];
        gradient[a] += r * xa;
        for (let b = a; b <= d; b++) hessian[a][b] += w * xa * (b === 0 ? 1 : row[b - 1]);
      }
    }
    for (let a = 0; a <= d; a++) {
      if (a > 0) {
        gradient[a] += lambda * beta[a];
        hessian[a][a] += lambda;
      }
      for (let b = 0; b < a; b++) hessian[a][b] = hessian[b][a];
    }
    const step = solve(hessian, gradient);
    let t = 1;
    let next = beta.map((v, j) => v - t * step[j]);
    let value = objective(next);
    while (value > current && t > 1e-8) {
      t /= 2;
      next = beta.map((v, j) => v - t * step[j]);
      value = objective(next);
    }
    const moved = Math.max(...step.map((s) => Math.abs(t * s)));
    beta = next;
    current = value;
    if (moved < tolerance) {
      iterations++;
      break;
    }
  }
  return { intercept: beta[0], weights: beta.slice(1), iterations };
}

function linear(beta: readonly number[], row: readonly number[]): number {
  let t = beta[0];
  for (let j = 0; j < row.length; j++) t += beta[j + 1] * row[j];
  return t;
}

/** Solves A x = b (A symmetric positive definite) by Gaussian elimination with partial pivoting. */
function solve(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    let pivot = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[pivot][c])) pivot = r;
    [M[c], M[pivot]] = [M[pivot], M[c]];
    const diagonal = M[c][c] || 1e-300;
    for (let r = c + 1; r < n; r++) {
      const f = M[r][c] / diagonal;
      if (f === 0) continue;
      for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r][n];
    for (let k = r + 1; k < n; k++) s -= M[r][k] * x[k];
    x[r] = s / (M[r][r] || 1e-300);
  }
  return x;
}

function predictorOf(state: LogisticState): Predictor {
  const { weights, intercept } = state;
  return {
    probability(z) {
      let t = intercept;
      for (let j = 0; j < weights.length; j++) t += weights[j] * z[j];
      return sigmoid(t);
    },
    contributions: (z) => weights.map((w, j) => w * z[j]),
  };
}

export const logisticRegression: Algorithm = {
  id: 'logreg',
  title: 'L2-regularized logistic regression',
  engine: 'omnichart (Newton / IRLS)',
  contributionMethod: 'coefficient × standardized value (log-odds)',
  calibration: 'likelihood',
  grid: () => [{ C: 1 }],
  async fit(X, y, params: HyperParameters): Promise<Fitted> {
    const { weights, intercept } = fitLogistic(X, y, Number(params.C));
    const state: LogisticState = { weights, intercept };
    return { state, predictor: predictorOf(state) };
  },
  load: (state) => predictorOf(state as LogisticState),
};
