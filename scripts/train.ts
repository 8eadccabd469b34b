/**
 * Trains every algorithm on every dataset with repeated stratified 10-fold CV (tuning nested), on one
 * worker thread per core. Writes the best model per dataset to models/<dataset>-<algorithm>.model.json,
 * the full comparison to models/leaderboard.json, and the exact outer folds to data/folds/<dataset>.json
 * (bench/sklearn-reference runs the same folds).
 *
 *   npm run train                                  all datasets × all algorithms
 *   npm run train -- --dataset pima --repeats 1    a quicker, noisier run
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { ALGORITHMS, algorithmById } from '../src/ml/algorithms/index.js';
import { canonicalJson, serializeArtifact, type ModelArtifact } from '../src/ml/artifact.js';
import { DATASETS, defaultDataDir, loadDataset } from '../src/ml/datasets.js';
import { DEFAULT_PROTOCOL, type CvProtocol } from '../src/ml/evaluate.js';
import { repeatedStratifiedKFold } from '../src/ml/folds.js';
import { trainInPool } from '../src/ml/train-pool.js';
import type { TrainJob } from '../src/ml/train-worker.js';

const { values } = parseArgs({
  options: {
    dataset: { type: 'string', multiple: true },
    algorithm: { type: 'string', multiple: true },
    repeats: { type: 'string' },
    threads: { type: 'string' },
    models: { type: 'string' },
  },
});
const dataDir = defaultDataDir();
const modelsDir = path.resolve(values.models ?? path.join(dataDir, '..', 'models'));
const protocol: CvProtocol = {
  ...DEFAULT_PROTOCOL,
  repeats: Number(values.repeats ?? DEFAULT_PROTOCOL.repeats),
};
const datasets = DATASETS.filter((d) => !values.dataset || values.dataset.includes(d.id));
const algorithms = ALGORITHMS.filter((a) => !values.algorithm || values.algorithm.includes(a.id));
const allAlgorithms = algorithms.length === ALGORITHMS.length;

await mkdir(modelsDir, { recursive: true });
await mkdir(path.join(dataDir, 'folds'), { recursive: true });
for (const spec of datasets) {
  const data = await loadDataset(spec.id, dataDir);
  const folds = repeatedStratifiedKFold(data.y, protocol.folds, protocol.repeats, protocol.seed);
  const exported = folds.map(({ repeat, fold, test }) => ({ repeat, fold, test }));
  await writeFile(
    path.join(dataDir, 'folds', `${spec.id}.json`),
    `${JSON.stringify({
      dataset: spec.id,
      file: spec.file,
      sha256: data.sha256,
      // The CSV columns the dataset uses (a chart-native variant uses some of its base's).
      columns: spec.features.map((f) => f.name),
      protocol,
      folds: exported,
    })}\n`,
  );
}

const jobs: TrainJob[] = datasets.flatMap((spec) =>
  algorithms.map((algorithm) => ({ dataset: spec.id, algorithm: algorithm.id, protocol, dataDir })),
);
const started = performance.now();
const progress = new Map<string, string>();
const pct = (v: number) => (100 * v).toFixed(2);
console.log(
  `training ${jobs.length} models: ${protocol.repeats} × stratified ${protocol.folds}-fold, ` +
    `inner ${protocol.innerFolds}-fold tuning, seed ${protocol.seed}`,
);
const results = await trainInPool(jobs, {
  threads: values.threads ? Number(values.threads) : undefined,
  onFold(job, done, total) {
    progress.set(`${job.dataset}-${job.algorithm}`, `${done}/${total}`);
    const line = [...progress].map(([id, p]) => `${id} ${p}`).join('  ');
    if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${line}`);
    else if (done % protocol.folds === 0)
      process.stderr.write(`  ${job.dataset}-${job.algorithm} fold ${done}/${total}\n`);
  },
  onDone({ artifact: a, seconds }) {
    progress.delete(a.modelId);
    const m = a.metrics;
    if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
    console.log(
      `${a.modelId.padEnd(17)} acc ${pct(m.accuracy.mean)} ± ${pct(m.accuracy.sd).padStart(5)}  ` +
        `auc ${m.auc.mean.toFixed(4)}  sens ${pct(m.sensitivity.mean)}  spec ${pct(m.specificity.mean)}  ` +
        `brier ${m.brier.mean.toFixed(4)}  ${seconds.toFixed(1).padStart(5)} s`,
    );
  },
});

const leaderboardFile = path.join(modelsDir, 'leaderboard.json');
const previous = await readFile(leaderboardFile, 'utf8').then(JSON.parse, () => ({ datasets: {} }));
const board: Record<string, unknown> = { ...previous.datasets };
for (const spec of datasets) {
  const candidates = results.filter((r) => r.job.dataset === spec.id);
  const ran = new Set<string>(candidates.map((c) => c.artifact.algorithm.id));
  // A run of some algorithms keeps the leaderboard rows of the others (measured on the same folds).
  const kept = ((previous.datasets[spec.id] ?? []) as { algorithm: string }[]).filter(
    (row) => !ran.has(row.algorithm) && canonicalJson(previous.protocol) === canonicalJson(protocol),
  );
  board[spec.id] = [
    ...kept,
    ...candidates.map(({ artifact, seconds }) => ({
      algorithm: artifact.algorithm.id,
      seconds: Number(seconds.toFixed(1)),
      hyperParameters: artifact.hyperParameters,
      metrics: artifact.metrics,
    })),
  ];
  // Served model: best mean CV accuracy, then best AUC, among algorithms with calibrated probabilities;
  // the model served now competes too when this run did not retrain its algorithm on the same folds.
  const served = allAlgorithms ? null : await servedArtifact(spec.id);
  const contenders = candidates.map((c) => c.artifact);
  if (served && !ran.has(served.algorithm.id)) contenders.push(served);
  const best = contenders
    .filter((a) => algorithmById(a.algorithm.id).calibration !== 'none')
    .sort(
      (a, b) => b.metrics.accuracy.mean - a.metrics.accuracy.mean || b.metrics.auc.mean - a.metrics.auc.mean,
    )[0];
  if (best === served) {
    console.log(`→ ${spec.id}: still serving ${best.modelId}`);
    continue;
  }
  if (spec.base) best.comparison = await compareWithFull(best, spec.base);
  const written = await writeArtifact(best);
  await removeOthers(spec.id, best.modelId);
  console.log(`→ ${spec.id}: serving ${best.modelId} (${written ? 'written' : 'unchanged'})`);
}
await writeFile(leaderboardFile, `${JSON.stringify({ protocol, datasets: board }, null, 2)}\n`);
console.log(`trained in ${((performance.now() - started) / 1000).toFixed(1)} s; models in ${modelsDir}`);

/** Writes the artifact unless the file already holds the same model (everything but trainedAt equal). */
async function writeArtifact(artifact: ModelArtifact): Promise<boolean> {
  const file = path.join(modelsDir, `${artifact.modelId}.model.json`);
  const existing = await readFile(file).then(
    (bytes) => JSON.parse(bytes.toString('utf8')) as ModelArtifact,
    () => null,
  );
  const same = (a: ModelArtifact, b: ModelArtifact) =>
    Buffer.from(serializeArtifact({ ...a, trainedAt: '' })).equals(
      Buffer.from(serializeArtifact({ ...b, trainedAt: '' })),
    );
  if (existing && same(existing, artifact)) return false;
  await writeFile(file, serializeArtifact(artifact));
  return true;
}

/** The dataset's served artifact when it was measured with this run's protocol (same outer folds). */
async function servedArtifact(dataset: string): Promise<ModelArtifact | null> {
  for (const algorithm of ALGORITHMS) {
    const file = path.join(modelsDir, `${dataset}-${algorithm.id}.model.json`);
    const artifact = await readFile(file, 'utf8').then(
      (text) => JSON.parse(text) as ModelArtifact,
      () => null,
    );
    if (artifact && canonicalJson(artifact.evaluation.protocol) === canonicalJson(protocol)) return artifact;
  }
  return null;
}

/** A dataset serves one model: drop artifacts of the algorithms that lost (not other datasets'). */
async function removeOthers(dataset: string, keep: string): Promise<void> {
  const names = new Set(ALGORITHMS.map((a) => `${dataset}-${a.id}.model.json`));
  for (const name of await readdir(modelsDir)) {
    if (names.has(name) && name !== `${keep}.model.json`) await rm(path.join(modelsDir, name));
  }
}

/**
 * A chart-native variant's card compares it with the served full-feature model of its base dataset:
 * same rows, labels, seed and therefore the same outer folds (checked).
 */
async function compareWithFull(variant: ModelArtifact, base: string): Promise<ModelArtifact['comparison']> {
  const file = (await readdir(modelsDir)).find((name) =>
    ALGORITHMS.some((a) => name === `${base}-${a.id}.model.json`),
  );
  if (!file)
    throw new Error(`no served ${base} model to compare ${variant.modelId} with: train ${base} first`);
  const full = JSON.parse(await readFile(path.join(modelsDir, file), 'utf8')) as ModelArtifact;
  const sameFolds =
    canonicalJson(full.evaluation.protocol) === canonicalJson(variant.evaluation.protocol) &&
    full.evaluation.predictions?.length === variant.evaluation.predictions.length &&
    full.evaluation.predictions.every((p, k) => p.length === variant.evaluation.predictions[k].length) &&
    full.dataset.sha256 === variant.dataset.sha256;
  if (!sameFolds) throw new Error(`${full.modelId} was not measured on the folds of ${variant.modelId}`);
  return {
    fullFeatureModel: full.modelId,
    features: variant.features.map((f) => f.name),
    fullMetrics: full.metrics,
    accuracyGapPoints: Number(
      (100 * (variant.metrics.accuracy.mean - full.metrics.accuracy.mean)).toFixed(2),
    ),
    aucGap: Number((variant.metrics.auc.mean - full.metrics.auc.mean).toFixed(4)),
  };
}
