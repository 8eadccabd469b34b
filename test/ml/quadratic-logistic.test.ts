import { fitLogistic } from '../../src/ml/algorithms/logistic-regression.js';
import {
  fitQuadraticLogistic,
  quadraticFeatures,
  quadraticLogisticRegression,
} from '../../src/ml/algorithms/quadratic-logistic.js';
import { logit, sigmoid } from '../../src/ml/algorithms/types.js';

describe('logistic regression on degree-2 features', () => {
  it("expands in scikit-learn's PolynomialFeatures(2) order (without its constant column)", () => {
    // scikit-learn's documentation: [a, b] becomes [1, a, b, a², ab, b²].
    expect(quadraticFeatures([2, 3])).toEqual([2, 3, 4, 6, 9]);
    expect(quadraticFeatures([2, 3, 5])).toEqual([2, 3, 5, 4, 6, 10, 9, 15, 25]);
  });

  // Inside the unit circle is class 1: no line separates it, a quadratic does.
  const grid: number[][] = [];
  for (let a = -2; a <= 2.0001; a += 0.25) for (let b = -2; b <= 2.0001; b += 0.25) grid.push([a, b]);
  const inside = grid.map(([a, b]) => (a * a + b * b < 1.2 ? 1 : 0));
  const accuracy = (p: (z: number[]) => number) =>
    grid.filter((z, i) => (p(z) >= 0.5 ? 1 : 0) === inside[i]).length / grid.length;

  it('separates a circle that a linear model cannot', () => {
    const linear = fitLogistic(grid, inside, 1);
    const linearP = (z: number[]) =>
      sigmoid(linear.intercept + linear.weights[0] * z[0] + linear.weights[1] * z[1]);
    // A line does no better than calling everything outside (the base rate).
    const baseRate = inside.filter((v) => v === 0).length / inside.length;
    expect(accuracy(linearP)).toBeCloseTo(baseRate, 6);
    const quadratic = quadraticLogisticRegression.load(fitQuadraticLogistic(grid, inside, 100));
    expect(accuracy((z) => quadratic.probability(z))).toBe(1);
  });

  it('splits each product between its two features; contributions add up to the log-odds change', () => {
    const y = grid.map(([a, b]) => (a * b + 0.5 * a > 0.2 ? 1 : 0));
    const model = quadraticLogisticRegression.load(fitQuadraticLogistic(grid, y, 1));
    for (const z of [
      [1, 0.5],
      [-1.5, 2],
      [0.25, -0.75],
    ]) {
      const parts = model.contributions(z);
      expect(parts).toHaveLength(2);
      expect(parts[0] + parts[1]).toBeCloseTo(
        logit(model.probability(z)) - logit(model.probability([0, 0])),
        9,
      );
    }
    // At the training mean nothing pushes either way.
    expect(model.contributions([0, 0])).toEqual([0, 0]);
  });

  it('regularizes more with a smaller C', () => {
    const weightNorm = (C: number) => Math.hypot(...fitQuadraticLogistic(grid, inside, C).weights);
    expect(weightNorm(0.01)).toBeLessThan(weightNorm(1));
  });
});
