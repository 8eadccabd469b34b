import { BadUserInputError } from '../../errors.js';
import { gaussianNb } from './gaussian-nb.js';
import { nearestNeighbours } from './knn.js';
import { logisticRegression } from './logistic-regression.js';
import { quadraticLogisticRegression } from './quadratic-logistic.js';
import { supportVectorMachine } from './svm.js';
import { decisionTree, randomForestAlgorithm } from './trees.js';
import type { Algorithm } from './types.js';

export const ALGORITHMS: readonly Algorithm[] = [
  supportVectorMachine,
  gaussianNb,
  decisionTree,
  randomForestAlgorithm,
  logisticRegression,
  quadraticLogisticRegression,
  nearestNeighbours,
];

export function algorithmById(id: string): Algorithm {
  const algorithm = ALGORITHMS.find((a) => a.id === id);
  if (!algorithm) {
    throw new BadUserInputError(`unknown algorithm: ${id}`, {
      algorithm: id,
      known: ALGORITHMS.map((a) => a.id),
    });
  }
  return algorithm;
}
