import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { IntegrityError } from '../../src/errors.js';
import { algorithmById } from '../../src/ml/algorithms/index.js';
import { DATASETS, defaultDataDir, loadDataset } from '../../src/ml/datasets.js';
import { crossValidate } from '../../src/ml/evaluate.js';
import type { FeatureSpec } from '../../src/ml/features.js';
import type { Fold } from '../../src/ml/folds.js';
import type { Preprocessor } from '../../src/ml/preprocess.js';
import { servedArtifact } from './helpers.js';

describe('datasets', () => {
  it('verifies checksums and parses missing values', async () => {
    const ckd = await loadDataset('ckd');
    expect(ckd.X).toHaveLength(400);
    expect(ckd.y.filter((v) => v === 1)).toHaveLength(250);
    expect(ckd.X.flat().filter(Number.isNaN)).toHaveLength(1012);
    const cleveland = await loadDataset('cleveland');
    expect(cleveland.X.flat().filter(Number.isNaN)).toHaveLength(6);
    // Pima's zeros stay values (as in the file): 374 rows with insulin 0.
    const pima = await loadDataset('pima');
    expect(pima.X.flat().filter(Number.isNaN)).toHaveLength(0);
    expect(pima.X.filter((row) => row[4] === 0)).toHaveLength(374);
  });

  it('refuses a dataset whose bytes changed', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'omnichart-data-'));
    try {
      const spec = DATASETS.find((d) => d.id === 'cleveland')!;
      await copyFile(path.join(defaultDataDir(), spec.file), path.join(dir, spec.file));
      const bytes = await readFile(path.join(dir, spec.file));
      bytes[bytes.length - 3] = bytes[bytes.length - 3] === 0x30 ? 0x31 : 0x30;
      await writeFile(path.join(dir, spec.file), bytes);
      await expect(loadDataset('cleveland', dir)).rejects.toThrow(IntegrityError);
      await expect(loadDataset('cleveland', dir)).rejects.toThrow(/sha256 [0-9a-f]{64}, expected 0fc138db/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('cross-validation', () => {
  it('reproduces the metrics stored in the served model cards (fixed seed)', async () => {
    for (const dataset of ['cleveland', 'ckd']) {
      const card = servedArtifact(dataset);
      const data = await loadDataset(dataset);
      const result = await crossValidate(
        algorithmById(card.algorithm.id),
        data.spec.features,
        data.X,
        data.y,
        card.evaluation.protocol,
      );
      expect(result.metrics).toEqual(card.metrics);
      expect(card.dataset.sha256).toBe(data.sha256);
    }
  });

  it('fits preprocessing on training rows only, in outer and inner folds', async () => {
    // Feature 0 is 1000 on a few rows; a fit that saw those rows while they were test rows would have a
    // different mean and median. Missing cells make the imputer matter too.
    const features: FeatureSpec[] = [
      { name: 'a', description: 'a', unit: '1', kind: 'continuous', range: [0, 2000] },
      { name: 'b', description: 'b', unit: '1', kind: 'continuous', range: [0, 10] },
    ];
    const X: number[][] = [];
    const y: number[] = [];
    for (let i = 0; i < 60; i++) {
      X.push([i % 7 === 0 ? 1000 : i, i % 5 === 0 ? NaN : (i * 7) % 10]);
      y.push(i % 3 === 0 ? 1 : 0);
    }
    const fits: { pre: Preprocessor; rows: readonly number[]; fold: Fold }[] = [];
    await crossValidate(
      algorithmById('knn'),
      features,
      X,
      y,
      { folds: 5, repeats: 2, innerFolds: 3, seed: 11 },
      { onPreprocessorFit: (pre, rows, fold) => fits.push({ pre, rows: [...rows], fold }) },
    );
    // 10 outer folds × (4 candidate k × 3 inner folds + 3 inner fits whose out-of-fold predictions
    // calibrate (Platt) + 1 final fit): the calibration, too, sees training rows only.
    expect(fits).toHaveLength(10 * (4 * 3 + 3 + 1));
    for (const { pre, rows, fold } of fits) {
      expect(rows.filter((r) => fold.test.includes(r))).toEqual([]);
      const a = rows.map((r) => X[r][0]);
      expect(pre.mean[0]).toBeCloseTo(a.reduce((s, v) => s + v, 0) / a.length, 9);
      const b = rows
        .map((r) => X[r][1])
        .filter((v) => !Number.isNaN(v))
        .sort((p, q) => p - q);
      const mid = b.length >> 1;
      expect(pre.impute[1]).toBe(b.length % 2 ? b[mid] : (b[mid - 1] + b[mid]) / 2);
    }
  });
});
