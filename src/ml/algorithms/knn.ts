import KNN from 'ml-knn';
import type { Algorithm, Fitted, HyperParameters, Predictor } from './types.js';
import { occlusion } from './types.js';

/** ml-knn's serialized model (a k-d tree whose points carry the label as their last coordinate). */
export interface KnnState {
  k: number;
  model: unknown;
}

interface KnnModel {
  k: number;
  kdTree: { nearest(point: readonly number[], k: number): [number[], number][] };
  toJSON(): unknown;
}
const KnnClass = KNN as unknown as {
  new (X: number[][], y: number[], options: { k: number }): KnnModel;
  load(model: unknown): KnnModel;
};

function predictorOf(state: KnnState, model: KnnModel = KnnClass.load(state.model)): Predictor {
  const probability = (z: readonly number[]) => {
    const neighbours = model.kdTree.nearest(z, state.k);
    let positives = 0;
    for (const [point] of neighbours) if (point[point.length - 1] === 1) positives++;
    return positives / neighbours.length;
  };
  return { probability, contributions: (z) => occlusion(probability, z) };
}

export const nearestNeighbours: Algorithm = {
  id: 'knn',
  title: 'k nearest neighbours (Euclidean, share of positive neighbours)',
  engine: 'ml-knn',
  contributionMethod: 'occlusion: log-odds change when the feature is set to the training mean',
  calibration: 'platt-inner-cv',
  grid: () => [5, 9, 15, 25].map((k) => ({ k })),
  async fit(X, y, params: HyperParameters): Promise<Fitted> {
    const k = Number(params.k);
    const model = new KnnClass(X, y, { k });
    const state: KnnState = { k, model: JSON.parse(JSON.stringify(model.toJSON())) };
    return { state, predictor: predictorOf(state, model) };
  },
  load: (state) => predictorOf(state as KnnState),
};
