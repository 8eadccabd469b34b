import { createRandom, shuffled } from './random.js';

/** One train/test split; indices into the dataset rows, ascending. */
export interface Fold {
  repeat: number;
  fold: number;
  train: number[];
  test: number[];
}

/**
 * Stratified k-fold: each class is shuffled with the seeded PRNG and dealt round-robin into k folds, so
 * every fold holds ⌊n_c/k⌋ or ⌈n_c/k⌉ rows of class c and every row is tested exactly once per repeat.
 */
export function stratifiedKFold(y: readonly number[], k: number, seed: number, repeat = 0): Fold[] {
  const random = createRandom(seed);
  const buckets: number[][] = Array.from({ length: k }, () => []);
  let offset = 0;
  for (const label of [...new Set(y)].sort((a, b) => a - b)) {
    const rows = shuffled(
      y.flatMap((value, index) => (value === label ? [index] : [])),
      random,
    );
    // Continue dealing where the previous class stopped, so fold sizes stay balanced overall.
    rows.forEach((row, i) => buckets[(offset + i) % k].push(row));
    offset = (offset + rows.length) % k;
  }
  return buckets.map((bucket, fold) => {
    const test = bucket.slice().sort((a, b) => a - b);
    const inTest = new Set(test);
    return { repeat, fold, test, train: y.map((_, i) => i).filter((i) => !inTest.has(i)) };
  });
}

/** `repeats` independent stratified k-fold splits; repeat r uses seed + r. */
export function repeatedStratifiedKFold(
  y: readonly number[],
  k: number,
  repeats: number,
  seed: number,
): Fold[] {
  return Array.from({ length: repeats }, (_, r) => stratifiedKFold(y, k, seed + r, r)).flat();
}
