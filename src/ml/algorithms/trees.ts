import * as cart from 'ml-cart';
import * as randomForest from 'ml-random-forest';
import type { Algorithm, Fitted, HyperParameters, Predictor } from './types.js';
import { occlusion } from './types.js';

/** A binary tree in plain JSON: split `z[f] < t ? l : r`, leaves carry P(label = 1). */
export type TreeNode = { f: number; t: number; l: TreeNode; r: TreeNode } | { p: number };

/** ml-cart's fitted node (what its classifier keeps as `root`). */
interface CartNode {
  left?: CartNode;
  right?: CartNode;
  splitColumn: number;
  splitValue: number;
  distribution?: { columns: number; get(row: number, column: number): number };
}

/** ml-cart's TreeNode → our TreeNode, re-indexing columns through `columns` (a forest's feature subset). */
function convert(node: CartNode, columns?: readonly number[]): TreeNode {
  if (node.left && node.right) {
    return {
      f: columns ? columns[node.splitColumn] : node.splitColumn,
      t: node.splitValue,
      l: convert(node.left, columns),
      r: convert(node.right, columns),
    };
  }
  const distribution = node.distribution!;
  return { p: distribution.columns > 1 ? distribution.get(0, 1) : 0 };
}

export function treeProbability(node: TreeNode, z: readonly number[]): number {
  let current = node;
  while (!('p' in current)) current = z[current.f] < current.t ? current.l : current.r;
  return current.p;
}

function ensemblePredictor(trees: readonly TreeNode[]): Predictor {
  const probability = (z: readonly number[]) => {
    let sum = 0;
    for (const tree of trees) sum += treeProbability(tree, z);
    return sum / trees.length;
  };
  return { probability, contributions: (z) => occlusion(probability, z) };
}

const Cart = cart.DecisionTreeClassifier as new (options: Record<string, unknown>) => {
  train(X: number[][], y: number[]): void;
  root: CartNode;
};

export interface TreeState {
  trees: TreeNode[];
}

export const decisionTree: Algorithm = {
  id: 'cart',
  title: 'CART decision tree (Gini)',
  engine: 'ml-cart',
  contributionMethod: 'occlusion: log-odds change when the feature is set to the training mean',
  // Leaf frequencies are not calibrated, and five more fits per fold would dominate training: not served.
  calibration: 'none',
  // One setting: ml-cart fits are slow enough that nested tuning would dominate training time.
  grid: () => [{ maxDepth: 5, minNumSamples: 3 }],
  async fit(X, y, params: HyperParameters): Promise<Fitted> {
    const tree = new Cart({
      gainFunction: 'gini',
      maxDepth: Number(params.maxDepth),
      minNumSamples: Number(params.minNumSamples),
    });
    tree.train(X, y);
    const state: TreeState = { trees: [convert(tree.root)] };
    return { state, predictor: ensemblePredictor(state.trees) };
  },
  load: (state) => ensemblePredictor((state as TreeState).trees),
};

const Forest = randomForest.RandomForestClassifier as unknown as new (options: Record<string, unknown>) => {
  train(X: number[][], y: number[]): void;
  estimators: { root: CartNode }[];
  indexes: number[][];
};

export const randomForestAlgorithm: Algorithm = {
  id: 'forest',
  title: 'Random forest (bagged CART, feature subset per tree; mean of leaf probabilities)',
  engine: 'ml-random-forest',
  contributionMethod: 'occlusion: log-odds change when the feature is set to the training mean',
  // Vote shares are not calibrated, and five more forests per fold would dominate training: not served.
  calibration: 'none',
  grid: () => [{ nEstimators: 30, maxFeatures: 0.5, maxDepth: 8 }],
  async fit(X, y, params: HyperParameters, seed: number): Promise<Fitted> {
    const forest = new Forest({
      nEstimators: Number(params.nEstimators),
      maxFeatures: Number(params.maxFeatures),
      replacement: false,
      useSampleBagging: true,
      noOOB: true,
      seed,
      treeOptions: { maxDepth: Number(params.maxDepth), minNumSamples: 3 },
    });
    forest.train(X, y);
    const state: TreeState = {
      trees: forest.estimators.map((estimator, i) => convert(estimator.root, forest.indexes[i])),
    };
    return { state, predictor: ensemblePredictor(state.trees) };
  },
  load: (state) => ensemblePredictor((state as TreeState).trees),
};
