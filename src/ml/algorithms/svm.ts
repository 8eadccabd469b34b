import { stratifiedKFold } from '../folds.js';
import type { Algorithm, Fitted, HyperParameters, Predictor } from './types.js';
import { occlusion } from './types.js';

/** An RBF C-SVC as libsvm saves it, evaluated in plain JS (no WASM needed to predict). */
export interface SvmState {
  gamma: number;
  rho: number;
  /** +1 when libsvm's first label is 1 (its positive decision values vote for its first label). */
  sign: number;
  /** Platt scaling of the decision value f toward label 1: P(1) = 1 / (1 + exp(A·f + B)). */
  probA: number;
  probB: number;
  coefficients: number[];
  supportVectors: number[][];
}

type LibSvmClass = Awaited<typeof import('libsvm-js').default>;
let libsvm: Promise<LibSvmClass> | undefined;

/** libsvm-js compiles its WASM on first use; later calls share it. */
async function loadLibsvm(): Promise<LibSvmClass> {
  libsvm ??= import('libsvm-js').then((module) => module.default);
  return libsvm;
}

/** Parses libsvm's text model format (binary RBF C-SVC); Platt parameters are added by the caller. */
export function parseLibsvmModel(text: string, d: number): SvmState {
  const lines = text.split('\n');
  const header = new Map<string, string[]>();
  let i = 0;
  for (; i < lines.length && lines[i].trim() !== 'SV'; i++) {
    const [key, ...values] = lines[i].trim().split(/\s+/);
    header.set(key, values);
  }
  const number = (key: string) => {
    const value = header.get(key)?.[0];
    if (value === undefined) throw new Error(`libsvm model without ${key}`);
    return Number(value);
  };
  const coefficients: number[] = [];
  const supportVectors: number[][] = [];
  for (i++; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    const [coef, ...pairs] = line.split(/\s+/);
    const sv = new Array<number>(d).fill(0);
    for (const pair of pairs) {
      const [index, value] = pair.split(':');
      sv[Number(index) - 1] = Number(value);
    }
    coefficients.push(Number(coef));
    supportVectors.push(sv);
  }
  return {
    gamma: number('gamma'),
    rho: number('rho'),
    sign: Number(header.get('label')?.[0]) === 1 ? 1 : -1,
    probA: -1,
    probB: 0,
    coefficients,
    supportVectors,
  };
}

/** Decision value toward label 1: sign · (Σ α_i y_i K(sv_i, z) − ρ). */
export function svmDecision(state: SvmState, z: readonly number[]): number {
  let f = -state.rho;
  const { supportVectors, coefficients, gamma } = state;
  for (let i = 0; i < supportVectors.length; i++) {
    const sv = supportVectors[i];
    let distance = 0;
    for (let j = 0; j < z.length; j++) {
      const diff = sv[j] - z[j];
      distance += diff * diff;
    }
    f += coefficients[i] * Math.exp(-gamma * distance);
  }
  return state.sign * f;
}

/**
 * Platt scaling as in libsvm (Lin, Lin & Weng 2007): fits P(1 | f) = 1 / (1 + exp(A·f + B)) by Newton's
 * method with backtracking on decision values f that come from held-out folds.
 */
export function fitPlatt(f: readonly number[], y: readonly number[]): { A: number; B: number } {
  const positives = y.filter((v) => v === 1).length;
  const negatives = y.length - positives;
  const hi = (positives + 1) / (positives + 2);
  const lo = 1 / (negatives + 2);
  const t = y.map((v) => (v === 1 ? hi : lo));
  const objective = (A: number, B: number) => {
    let value = 0;
    for (let i = 0; i < f.length; i++) {
      const fApB = f[i] * A + B;
      value +=
        fApB >= 0
          ? t[i] * fApB + Math.log1p(Math.exp(-fApB))
          : (t[i] - 1) * fApB + Math.log1p(Math.exp(fApB));
    }
    return value;
  };
  let A = 0;
  let B = Math.log((negatives + 1) / (positives + 1));
  let value = objective(A, B);
  for (let iteration = 0; iteration < 100; iteration++) {
    let h11 = 1e-12;
    let h22 = 1e-12;
    let h21 = 0;
    let g1 = 0;
    let g2 = 0;
    for (let i = 0; i < f.length; i++) {
      const fApB = f[i] * A + B;
      const p = fApB >= 0 ? Math.exp(-fApB) / (1 + Math.exp(-fApB)) : 1 / (1 + Math.exp(fApB));
      const q = 1 - p;
      const d2 = p * q;
      h11 += f[i] * f[i] * d2;
      h22 += d2;
      h21 += f[i] * d2;
      const d1 = t[i] - p;
      g1 += f[i] * d1;
      g2 += d1;
    }
    if (Math.abs(g1) < 1e-5 && Math.abs(g2) < 1e-5) break;
    const det = h11 * h22 - h21 * h21;
    const dA = -(h22 * g1 - h21 * g2) / det;
    const dB = -(-h21 * g1 + h11 * g2) / det;
    const gd = g1 * dA + g2 * dB;
    let step = 1;
    for (; step >= 1e-10; step /= 2) {
      const next = objective(A + step * dA, B + step * dB);
      if (next < value + 1e-4 * step * gd) {
        A += step * dA;
        B += step * dB;
        value = next;
        break;
      }
    }
    if (step < 1e-10) break;
  }
  return { A, B };
}

function predictorOf(state: SvmState): Predictor {
  const probability = (z: readonly number[]) => {
    const t = state.probA * svmDecision(state, z) + state.probB;
    return t >= 0 ? Math.exp(-t) / (1 + Math.exp(-t)) : 1 / (1 + Math.exp(t));
  };
  return { probability, contributions: (z) => occlusion(probability, z) };
}

async function trainLibsvm(X: number[][], y: number[], cost: number, gamma: number): Promise<SvmState> {
  const SVM = await loadLibsvm();
  const svm = new SVM({ type: SVM.SVM_TYPES.C_SVC, kernel: SVM.KERNEL_TYPES.RBF, cost, gamma, quiet: true });
  try {
    svm.train(X, y);
    return parseLibsvmModel(svm.serializeModel(), X[0].length);
  } finally {
    svm.free();
  }
}

export const supportVectorMachine: Algorithm = {
  id: 'svm',
  title: 'Support vector machine (RBF kernel, Platt-scaled)',
  engine: 'libsvm-js',
  contributionMethod: 'occlusion: log-odds change when the feature is set to the training mean',
  calibration: 'platt-in-fit',
  // gamma as a multiple of 1/d (libsvm's and, on standardized data, scikit-learn's default).
  grid: () => [1, 0.3, 3].flatMap((cost) => [1, 0.3].map((gammaScale) => ({ cost, gammaScale }))),
  async fit(X, y, params: HyperParameters, seed, tuning = false): Promise<Fitted> {
    const cost = Number(params.cost);
    const gamma = Number(params.gammaScale) / X[0].length;
    if (tuning) {
      const state: SvmState = await trainLibsvm(X, y, cost, gamma);
      return { state, predictor: predictorOf(state) };
    }
    // Platt scaling on decision values of 5 held-out folds (seeded), as libsvm does internally.
    const decisions = new Array<number>(X.length);
    for (const fold of stratifiedKFold(y, 5, seed)) {
      const inner = await trainLibsvm(
        fold.train.map((i) => X[i]),
        fold.train.map((i) => y[i]),
        cost,
        gamma,
      );
      for (const i of fold.test) decisions[i] = svmDecision(inner, X[i]);
    }
    const { A, B } = fitPlatt(decisions, y);
    const state: SvmState = { ...(await trainLibsvm(X, y, cost, gamma)), probA: A, probB: B };
    return { state, predictor: predictorOf(state) };
  },
  load: (state) => predictorOf(state as SvmState),
};
