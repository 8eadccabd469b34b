import type { Algorithm, HyperParameters, Predictor } from './algorithms/types.js';
import { calibrated, fitPlattCalibration, roundProbability, type PlattCalibration } from './calibration.js';
import type { FeatureSpec } from './features.js';
import { repeatedStratifiedKFold, stratifiedKFold, type Fold } from './folds.js';
import { foldMetrics, summarize, type FoldMetrics, type MetricsSummary } from './metrics.js';
import { fitPreprocessor, transformRows, type Preprocessor } from './preprocess.js';

export interface CvProtocol {
  folds: number;
  repeats: number;
  /** Folds of the inner cross-validation that picks hyper-parameters inside each outer training set. */
  innerFolds: number;
  seed: number;
}

export const DEFAULT_PROTOCOL: CvProtocol = { folds: 10, repeats: 3, innerFolds: 5, seed: 20240605 };

export interface FoldResult extends FoldMetrics {
  repeat: number;
  fold: number;
  hyperParameters: HyperParameters;
  /** P(1) for the fold's test rows (ascending row order), rounded as stored in the artifact. */
  p: number[];
}

export interface CvResult {
  protocol: CvProtocol;
  folds: FoldResult[];
  metrics: MetricsSummary;
}

export interface CvHooks {
  /** After each outer fold (progress display). */
  onFold?: (done: number, total: number, result: FoldResult) => void;
  /** Sees every fitted preprocessor with the rows it was fitted on (leakage tests). */
  onPreprocessorFit?: (pre: Preprocessor, rows: readonly number[], fold: Fold) => void;
}

/** Seeds for inner splits and model fitting, derived from the protocol seed and fold position. */
function derivedSeed(seed: number, repeat: number, fold: number): number {
  return (Math.imul(seed ^ 0x5bd1e995, 31) + repeat * 1009 + fold * 7919) >>> 0;
}

/**
 * Fits preprocessing on `train` rows only, then the algorithm, and returns P(1) for `test` rows.
 * With several candidate hyper-parameters, an inner stratified CV on the training rows picks one.
 */
export async function fitAndPredict(
  algorithm: Algorithm,
  features: readonly FeatureSpec[],
  X: readonly number[][],
  y: readonly number[],
  train: readonly number[],
  test: readonly number[],
  seed: number,
  innerFolds: number,
  hooks: CvHooks = {},
  fold: Fold = { repeat: 0, fold: 0, train: [...train], test: [...test] },
): Promise<{
  p: number[];
  hyperParameters: HyperParameters;
  preprocessor: Preprocessor;
  calibration: PlattCalibration | null;
}> {
  const hyperParameters = await tune(algorithm, features, X, y, train, seed, innerFolds, hooks, fold);
  const fitted = await fitOnRows(
    algorithm,
    features,
    X,
    y,
    train,
    hyperParameters,
    seed,
    innerFolds,
    hooks,
    fold,
  );
  const testZ = transformRows(
    fitted.preprocessor,
    test.map((i) => X[i]),
  );
  return {
    p: testZ.map((z) => fitted.predictor.probability(z)),
    hyperParameters,
    preprocessor: fitted.preprocessor,
    calibration: fitted.calibration,
  };
}

/**
 * Fits preprocessing and the model on `rows`; for algorithms calibrated by the trainer, Platt scaling
 * is fitted on out-of-fold predictions of an inner stratified CV over the same rows, so no row the
 * model is later tested on informs the calibration.
 */
export async function fitOnRows(
  algorithm: Algorithm,
  features: readonly FeatureSpec[],
  X: readonly number[][],
  y: readonly number[],
  rows: readonly number[],
  hyperParameters: HyperParameters,
  seed: number,
  innerFolds: number,
  hooks: CvHooks = {},
  fold?: Fold,
): Promise<{
  preprocessor: Preprocessor;
  state: unknown;
  predictor: Predictor;
  calibration: PlattCalibration | null;
}> {
  const fitPart = async (part: readonly number[]) => {
    const preprocessor = fitPreprocessor(
      features,
      part.map((i) => X[i]),
    );
    if (fold) hooks.onPreprocessorFit?.(preprocessor, part, fold);
    const fitted = await algorithm.fit(
      transformRows(
        preprocessor,
        part.map((i) => X[i]),
      ),
      part.map((i) => y[i]),
      hyperParameters,
      seed,
    );
    return { preprocessor, ...fitted };
  };
  let calibration: PlattCalibration | null = null;
  if (algorithm.calibration === 'platt-inner-cv') {
    const rowsY = rows.map((i) => y[i]);
    const outOfFold = new Array<number>(rows.length);
    for (const split of stratifiedKFold(rowsY, innerFolds, seed ^ 0x2545f491)) {
      const inner = await fitPart(split.train.map((k) => rows[k]));
      for (const k of split.test) {
        outOfFold[k] = inner.predictor.probability(transformRows(inner.preprocessor, [X[rows[k]]])[0]);
      }
    }
    calibration = fitPlattCalibration(outOfFold, rowsY);
  }
  const fitted = await fitPart(rows);
  return { ...fitted, predictor: calibrated(fitted.predictor, calibration), calibration };
}

/** Picks the candidate with the best inner-CV accuracy (ties: lower Brier score, then grid order). */
export async function tune(
  algorithm: Algorithm,
  features: readonly FeatureSpec[],
  X: readonly number[][],
  y: readonly number[],
  rows: readonly number[],
  seed: number,
  innerFolds: number,
  hooks: CvHooks = {},
  outer?: Fold,
): Promise<HyperParameters> {
  const grid = algorithm.grid(features.length);
  if (grid.length === 1) return grid[0];
  const rowsY = rows.map((i) => y[i]);
  const splits = stratifiedKFold(rowsY, innerFolds, seed);
  let best = grid[0];
  let bestScore = [-Infinity, -Infinity];
  for (const candidate of grid) {
    let correct = 0;
    let brier = 0;
    for (const split of splits) {
      const train = split.train.map((k) => rows[k]);
      const test = split.test.map((k) => rows[k]);
      const pre = fitPreprocessor(
        features,
        train.map((i) => X[i]),
      );
      if (outer) hooks.onPreprocessorFit?.(pre, train, outer);
      const fitted = await algorithm.fit(
        transformRows(
          pre,
          train.map((i) => X[i]),
        ),
        train.map((i) => y[i]),
        candidate,
        seed,
        true,
      );
      for (const i of test) {
        const p = fitted.predictor.probability(transformRows(pre, [X[i]])[0]);
        if ((p >= 0.5 ? 1 : 0) === y[i]) correct++;
        brier += (p - y[i]) ** 2;
      }
    }
    const score = [correct, -brier];
    if (score[0] > bestScore[0] || (score[0] === bestScore[0] && score[1] > bestScore[1])) {
      best = candidate;
      bestScore = score;
    }
  }
  return best;
}

/** Repeated stratified k-fold CV with tuning nested inside each outer training set. */
export async function crossValidate(
  algorithm: Algorithm,
  features: readonly FeatureSpec[],
  X: readonly number[][],
  y: readonly number[],
  protocol: CvProtocol = DEFAULT_PROTOCOL,
  hooks: CvHooks = {},
): Promise<CvResult> {
  const splits = repeatedStratifiedKFold(y, protocol.folds, protocol.repeats, protocol.seed);
  const results: FoldResult[] = [];
  for (const fold of splits) {
    const seed = derivedSeed(protocol.seed, fold.repeat, fold.fold);
    const { p, hyperParameters } = await fitAndPredict(
      algorithm,
      features,
      X,
      y,
      fold.train,
      fold.test,
      seed,
      protocol.innerFolds,
      hooks,
      fold,
    );
    const result: FoldResult = {
      repeat: fold.repeat,
      fold: fold.fold,
      hyperParameters,
      p: p.map(roundProbability),
      ...foldMetrics(
        fold.test.map((i) => y[i]),
        p.map(roundProbability),
      ),
    };
    results.push(result);
    hooks.onFold?.(results.length, splits.length, result);
  }
  return { protocol, folds: results, metrics: summarize(results) };
}
