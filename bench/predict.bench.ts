/**
 * In-process latency of PredictionService.predict (validation + preprocessing + model + top features)
 * for every served model in models/, and of predictFromChart on a small FHIR chart.
 *
 *   npm run build && node dist/bench/predict.bench.js [calls per model, default 20000]
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Resource } from '@medplum/fhirtypes';
import { predictorOf, type LoadedModel } from '../src/ml/model-registry.js';
import { metricsHash, parseArtifact } from '../src/ml/artifact.js';
import { defaultDataDir, loadDataset } from '../src/ml/datasets.js';
import { PredictionService } from '../src/ml/prediction-service.js';

const calls = Number(process.argv[2] ?? 20_000);
const modelsDir = path.join(defaultDataDir(), '..', 'models');
const models = new Map<string, LoadedModel>();
for (const file of readdirSync(modelsDir).filter((f) => f.endsWith('.model.json'))) {
  const artifact = parseArtifact(readFileSync(path.join(modelsDir, file)), file);
  models.set(artifact.modelId, {
    artifact,
    cid: 'local',
    metricsHash: metricsHash(artifact.metrics),
    anchor: { txHash: '0x', blockNumber: 0 },
    predictor: predictorOf(artifact),
  });
}
const service = new PredictionService({ get: (id: string) => models.get(id)! });

function report(label: string, run: (i: number) => unknown, inputs: number): void {
  for (let i = 0; i < Math.min(2000, calls); i++) run(i % inputs); // warm-up (JIT)
  const latencies = new Float64Array(calls);
  const started = performance.now();
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    run(i % inputs);
    latencies[i] = performance.now() - t0;
  }
  const seconds = (performance.now() - started) / 1000;
  latencies.sort();
  const pct = (p: number) => latencies[Math.min(calls - 1, Math.floor((p / 100) * calls))] * 1000;
  console.log(
    `${label.padEnd(34)} ${pct(50).toFixed(1).padStart(8)} ${pct(95).toFixed(1).padStart(8)} ` +
      `${pct(99).toFixed(1).padStart(8)} ${(calls / seconds).toFixed(0).padStart(10)}`,
  );
}

console.log(`${calls} calls per row, one thread, after 2000 warm-up calls`);
console.log('operation                            p50 µs   p95 µs   p99 µs    calls/s');
for (const [id, model] of [...models].sort()) {
  if (model.artifact.kind === 'equation') continue; // no dataset rows to feed it
  const data = await loadDataset(model.artifact.dataset.id);
  // Real rows of the dataset as feature objects (missing cells → null, i.e. imputed).
  const inputs = data.X.map((row) =>
    Object.fromEntries(model.artifact.features.map((f, j) => [f.name, Number.isNaN(row[j]) ? null : row[j]])),
  );
  const usable = inputs.filter((input) => {
    try {
      service.predict(id, input);
      return true;
    } catch {
      return false;
    }
  });
  report(`predict ${id}`, (i) => service.predict(id, usable[i]), usable.length);
}

const pima = [...models.keys()].find((id) => id.startsWith('pima-'));
if (pima) {
  const chart: Resource[] = [
    { resourceType: 'Patient', id: 'p', gender: 'female', birthDate: '1984-03-15' },
    ...[
      ['2345-7', 7.0, 'mmol/L'],
      ['8462-4', 84, 'mm[Hg]'],
      ['39156-5', 31.4, 'kg/m2'],
      ['11996-6', 2, '{#}'],
    ].map(([code, value, unit], i): Resource => ({
      resourceType: 'Observation',
      id: `o${i}`,
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: String(code) }] },
      effectiveDateTime: '2025-05-20T08:00:00Z',
      valueQuantity: {
        value: Number(value),
        unit: String(unit),
        system: 'http://unitsofmeasure.org',
        code: String(unit),
      },
    })),
  ];
  const now = new Date('2025-06-01T00:00:00Z');
  report(`predictFromChart ${pima}`, () => service.predictFromChart(pima, chart, now), 1);
}
