import { fitGaussianNb, gaussianNbLogOdds, gaussianNb } from '../../src/ml/algorithms/gaussian-nb.js';
import { fitLogistic } from '../../src/ml/algorithms/logistic-regression.js';
import { fitPlatt } from '../../src/ml/algorithms/svm.js';
import { sigmoid } from '../../src/ml/algorithms/types.js';
import { repeatedStratifiedKFold, stratifiedKFold } from '../../src/ml/folds.js';
import { foldMetrics, rocAuc } from '../../src/ml/metrics.js';

describe('Gaussian naive Bayes in log space', () => {
  // Class 0: x ∈ {0, 2} (mean 1, variance 1); class 1: x ∈ {4, 6} (mean 5, variance 1); equal priors.
  // By hand: log-odds(x) = [(x − 1)² − (x − 5)²] / 2 = 4x − 12 (variance smoothing 1e-9 · 5 is negligible).
  const X = [[0], [2], [4], [6]];
  const y = [0, 0, 1, 1];
  const state = fitGaussianNb(X, y);

  it('fits means, variances and priors', () => {
    expect(state.mean).toEqual([[1], [5]]);
    expect(state.variance[0][0]).toBeCloseTo(1, 8);
    expect(state.variance[1][0]).toBeCloseTo(1, 8);
    expect(state.logPrior).toEqual([Math.log(0.5), Math.log(0.5)]);
  });

  it('matches the hand-computed posterior', () => {
    expect(gaussianNbLogOdds(state, [3])).toBeCloseTo(0, 8);
    expect(gaussianNbLogOdds(state, [4])).toBeCloseTo(4, 6);
    expect(gaussianNb.load(state).probability([4])).toBeCloseTo(sigmoid(4), 8); // 0.98201
  });

  it('does not underflow far from both classes (the densities themselves are 0 in floating point)', () => {
    // exp(−0.5 · 41²) underflows to 0 for both classes; a product-of-densities predict would give 0/0.
    expect(Math.exp(-0.5 * 41 * 41) * Math.exp(-0.5 * 45 * 45)).toBe(0);
    expect(gaussianNbLogOdds(state, [-40])).toBeCloseTo(4 * -40 - 12, 4);
    const p = gaussianNb.load(state).probability([-40]);
    expect(p).toBeGreaterThan(0);
    expect(p).toBeLessThan(1e-70);
  });

  it('sums over all features (a third feature changes the answer)', () => {
    const two = fitGaussianNb(
      [
        [0, 0],
        [2, 2],
        [4, 0],
        [6, 2],
      ],
      y,
    );
    // Feature 2 has the same distribution in both classes, so it adds nothing; feature 1 adds 4x − 12.
    expect(gaussianNbLogOdds(two, [4, 1])).toBeCloseTo(4, 6);
    const three = fitGaussianNb(
      [
        [0, 0, 0],
        [2, 2, 2],
        [4, 0, 4],
        [6, 2, 6],
      ],
      y,
    );
    expect(gaussianNbLogOdds(three, [4, 1, 4])).toBeCloseTo(8, 6);
  });
});

describe('L2 logistic regression', () => {
  it('reaches the closed-form maximum-likelihood solution when the penalty vanishes', () => {
    // x = 0: y = 0, 0, 1 → P = 1/3; x = 1: y = 1, 1, 1, 0 → P = 3/4.
    const X = [[0], [0], [0], [1], [1], [1], [1]];
    const y = [0, 0, 1, 1, 1, 1, 0];
    const fit = fitLogistic(X, y, 1e12);
    expect(fit.intercept).toBeCloseTo(Math.log(1 / 2), 6);
    expect(fit.intercept + fit.weights[0]).toBeCloseTo(Math.log(3), 6);
  });

  it('finds the unique penalized solution on separable data', () => {
    // x = −1 → 0, x = 1 → 1, C = 1: by symmetry b = 0 and the gradient gives w = 2·σ(−w) ≈ 0.6749.
    const fit = fitLogistic([[-1], [1]], [0, 1], 1);
    const w = fit.weights[0];
    expect(fit.intercept).toBeCloseTo(0, 10);
    expect(w).toBeCloseTo(2 * sigmoid(-w), 10);
    expect(w).toBeCloseTo(0.6749, 3);
    expect(fit.iterations).toBeLessThan(20);
  });

  it('zeroes the penalized gradient on a non-separable set', () => {
    const X = [
      [0.5, -1],
      [1.5, 0.2],
      [-0.3, 0.7],
      [2.2, -0.4],
      [0.1, 0.1],
      [-1.2, -0.8],
      [0.9, 1.3],
      [-0.7, 0.4],
    ];
    const y = [0, 1, 0, 1, 1, 0, 1, 0];
    const C = 0.5;
    const { intercept, weights } = fitLogistic(X, y, C);
    const residual = X.map((row, i) => sigmoid(intercept + weights[0] * row[0] + weights[1] * row[1]) - y[i]);
    expect(residual.reduce((a, b) => a + b, 0)).toBeCloseTo(0, 9);
    for (let j = 0; j < 2; j++) {
      const g = residual.reduce((a, r, i) => a + r * X[i][j], 0) + weights[j] / C;
      expect(g).toBeCloseTo(0, 9);
    }
  });
});

describe('Platt scaling', () => {
  it('is monotone in the decision value and centred for symmetric data', () => {
    const f = [-2, -1.5, -1, -0.5, 0.5, 1, 1.5, 2];
    const y = [0, 0, 0, 1, 0, 1, 1, 1];
    const { A, B } = fitPlatt(f, y);
    expect(A).toBeLessThan(0);
    expect(B).toBeCloseTo(0, 6);
  });
});

describe('stratified folds', () => {
  const y = [...new Array(57).fill(0), ...new Array(23).fill(1)];

  it('tests every row exactly once per repeat, keeps class shares, and never mixes train and test', () => {
    const folds = stratifiedKFold(y, 10, 42);
    const tested = folds.flatMap((f) => f.test).sort((a, b) => a - b);
    expect(tested).toEqual(y.map((_, i) => i));
    for (const fold of folds) {
      const positives = fold.test.filter((i) => y[i] === 1).length;
      expect([2, 3]).toContain(positives);
      expect([7, 8, 9]).toContain(fold.test.length);
      expect(fold.train.filter((i) => fold.test.includes(i))).toEqual([]);
      expect(fold.train.length + fold.test.length).toBe(y.length);
    }
  });

  it('is a function of the seed', () => {
    expect(repeatedStratifiedKFold(y, 10, 3, 7)).toEqual(repeatedStratifiedKFold(y, 10, 3, 7));
    expect(stratifiedKFold(y, 10, 7)[0].test).not.toEqual(stratifiedKFold(y, 10, 8)[0].test);
  });
});

describe('metrics', () => {
  it('computes ROC AUC, sensitivity, specificity and Brier score', () => {
    expect(rocAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])).toBe(0.75);
    expect(rocAuc([0, 1], [0.5, 0.5])).toBe(0.5);
    const m = foldMetrics([0, 0, 1, 1], [0.1, 0.6, 0.7, 0.2]);
    expect(m).toEqual({
      accuracy: 0.5,
      auc: 0.75,
      sensitivity: 0.5,
      specificity: 0.5,
      brier: (0.01 + 0.36 + 0.09 + 0.64) / 4,
    });
  });
});
