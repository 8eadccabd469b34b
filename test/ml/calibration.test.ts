import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArtifact, type ModelArtifact } from '../../src/ml/artifact.js';
import { reliabilityTable } from '../../src/ml/calibration.js';
import { loadDataset } from '../../src/ml/datasets.js';
import { repeatedStratifiedKFold } from '../../src/ml/folds.js';
import { foldMetrics, summarize } from '../../src/ml/metrics.js';
import { modelsDir } from './helpers.js';

const trained: ModelArtifact[] = readdirSync(modelsDir)
  .filter((f) => f.endsWith('.model.json'))
  .map((f) => parseArtifact(readFileSync(path.join(modelsDir, f)), f))
  .filter((a): a is ModelArtifact => a.kind !== 'equation');

describe('reliabilityTable', () => {
  it('groups by tenths of predicted risk and averages each', () => {
    const p = [
      0.05, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95, 0.1, 0.9, 0.5, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6,
      0.0,
    ];
    const y = p.map((v) => (v >= 0.5 ? 1 : 0));
    const table = reliabilityTable(y, p);
    expect(table).toHaveLength(10);
    expect(table[0]).toEqual({ decile: 1, n: 2, meanPredicted: 0.025, observedRate: 0 });
    expect(table[9]).toEqual({ decile: 10, n: 2, meanPredicted: 0.925, observedRate: 1 });
    expect(table.map((b) => b.n).reduce((a, b) => a + b)).toBe(20);
  });
});

describe('model cards: calibration on the CV folds', () => {
  it('covers every served trained model, full-feature and chart-native', () => {
    const ids = trained.map((a) => a.dataset.id).sort();
    expect(ids).toEqual(['ckd', 'ckd-chart', 'cleveland', 'cleveland-chart', 'pima', 'pima-chart', 'wdbc']);
  });

  it.each(trained.map((a) => [a.modelId, a] as const))(
    '%s: the reliability table and Brier score match a recomputation from the stored fold predictions',
    async (_id, card) => {
      const { y } = await loadDataset(card.dataset.id);
      const { protocol, predictions } = card.evaluation;
      const folds = repeatedStratifiedKFold(y, protocol.folds, protocol.repeats, protocol.seed);
      expect(predictions.map((p) => p.length)).toEqual(folds.map((f) => f.test.length));

      // The card's per-fold metrics were computed on exactly these predictions.
      const perFold = folds.map((fold, k) =>
        foldMetrics(
          fold.test.map((i) => y[i]),
          predictions[k],
        ),
      );
      expect(summarize(perFold)).toEqual(card.metrics);

      // Independent recomputation: pool, sort by probability (ties by position), cut into tenths.
      const pooled = folds.flatMap((fold, k) =>
        fold.test.map((row, j) => ({ y: y[row], p: predictions[k][j] })),
      );
      const order = pooled.map((_, i) => i).sort((a, b) => pooled[a].p - pooled[b].p || a - b);
      const expected = Array.from({ length: 10 }, (_, g) => {
        const members = order.slice(
          Math.floor((g * order.length) / 10),
          Math.floor(((g + 1) * order.length) / 10),
        );
        return {
          decile: g + 1,
          n: members.length,
          meanPredicted: members.reduce((s, i) => s + pooled[i].p, 0) / members.length,
          observedRate: members.reduce((s, i) => s + pooled[i].y, 0) / members.length,
        };
      });
      expect(card.calibration.reliability).toHaveLength(10);
      card.calibration.reliability.forEach((bin, g) => {
        expect(bin.decile).toBe(expected[g].decile);
        expect(bin.n).toBe(expected[g].n);
        expect(bin.meanPredicted).toBeCloseTo(expected[g].meanPredicted, 12);
        expect(bin.observedRate).toBeCloseTo(expected[g].observedRate, 12);
      });
      const brier = pooled.reduce((s, r) => s + (r.p - r.y) ** 2, 0) / pooled.length;
      expect(card.calibration.brier).toBeCloseTo(brier, 12);
    },
  );

  it('serves only calibrated algorithms, and says how', () => {
    for (const card of trained) {
      expect(['svm', 'logreg', 'logreg2', 'gnb', 'knn']).toContain(card.algorithm.id);
      if (card.algorithm.id === 'gnb' || card.algorithm.id === 'knn')
        expect(card.calibration.platt).not.toBeNull();
      expect(card.calibration.method).not.toMatch(/^none: uncalibrated/);
    }
  });

  it('compares each chart-native variant with the full-feature model on the same folds', () => {
    for (const card of trained.filter((a) => a.dataset.base)) {
      const full = trained.find((a) => a.dataset.id === card.dataset.base)!;
      expect(card.comparison!.fullFeatureModel).toBe(full.modelId);
      expect(card.comparison!.fullMetrics).toEqual(full.metrics);
      expect(card.comparison!.features).toEqual(card.features.map((f) => f.name));
      expect(card.features.every((f) => f.chart !== null)).toBe(true);
      expect(card.comparison!.accuracyGapPoints).toBeCloseTo(
        100 * (card.metrics.accuracy.mean - full.metrics.accuracy.mean),
        2,
      );
      expect(card.evaluation.protocol).toEqual(full.evaluation.protocol);
    }
  });
});
