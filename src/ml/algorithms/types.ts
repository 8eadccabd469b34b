/** Hyper-parameters as plain JSON values (they go into artifacts and model cards). */
export type HyperParameters = Record<string, number | string | boolean>;

/** A fitted model over standardized feature vectors. Pure JS and synchronous, so prediction is cheap. */
export interface Predictor {
  /** P(label = 1). */
  probability(z: readonly number[]): number;
  /** How much each feature pushed toward label 1 (see Algorithm.contributionMethod for the unit). */
  contributions(z: readonly number[]): number[];
}

export interface Fitted {
  /** JSON-serializable model state; `Algorithm.load(state)` rebuilds the predictor. */
  state: unknown;
  predictor: Predictor;
}

export type AlgorithmId = 'svm' | 'gnb' | 'cart' | 'forest' | 'logreg' | 'logreg2' | 'knn';

export interface Algorithm {
  id: AlgorithmId;
  title: string;
  /** Library or implementation that fits it. */
  engine: string;
  contributionMethod: string;
  /**
   * How its probabilities are made calibrated: fitted by maximum likelihood (logistic regression),
   * Platt-scaled inside `fit` on held-out folds (SVM), Platt-scaled by the trainer on inner-CV
   * predictions of the training rows (`platt-inner-cv`), or not at all (`none`: never served).
   */
  calibration: 'likelihood' | 'platt-in-fit' | 'platt-inner-cv' | 'none';
  /** Candidate hyper-parameters for d features; the first is the default. Several → nested tuning. */
  grid(d: number): HyperParameters[];
  /** `tuning`: the fit only ranks hyper-parameters by accuracy, so costly calibration may be skipped. */
  fit(X: number[][], y: number[], params: HyperParameters, seed: number, tuning?: boolean): Promise<Fitted>;
  load(state: unknown): Predictor;
}

const clampP = (p: number) => Math.min(1 - 1e-9, Math.max(1e-9, p));
export const logit = (p: number) => Math.log(clampP(p) / (1 - clampP(p)));
export const sigmoid = (t: number) => (t >= 0 ? 1 / (1 + Math.exp(-t)) : Math.exp(t) / (1 + Math.exp(t)));

/**
 * Occlusion: log-odds change when feature j is replaced by the training mean (0 after standardizing).
 * d extra evaluations; used where a model has no additive decomposition.
 */
export function occlusion(probability: (z: readonly number[]) => number, z: readonly number[]): number[] {
  const base = logit(probability(z));
  const probe = z.slice();
  return z.map((value, j) => {
    probe[j] = 0;
    const delta = base - logit(probability(probe));
    probe[j] = value;
    return delta;
  });
}
