import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Resource } from '@medplum/fhirtypes';
import { recordMetadataOf } from '../../src/records/record-metadata.js';
import type { ChartEntry, ChartQuery, ChartRead } from '../../src/records/record-service.js';
import { ALGORITHMS } from '../../src/ml/algorithms/index.js';
import { metricsHash, parseArtifact, type AnyArtifact, type ModelArtifact } from '../../src/ml/artifact.js';
import { predictorOf, type LoadedModel } from '../../src/ml/model-registry.js';

export const modelsDir = path.resolve(import.meta.dirname, '..', '..', 'models');

/** The committed artifact served for a dataset (models/<dataset>-<algorithm>.model.json). */
export function servedArtifactFile(dataset: string): string {
  const names = new Set(ALGORITHMS.map((a) => `${dataset}-${a.id}.model.json`));
  const file = readdirSync(modelsDir).find((f) => names.has(f));
  if (!file) throw new Error(`no committed model for ${dataset}: run npm run train`);
  return path.join(modelsDir, file);
}

export function servedArtifact(dataset: string): ModelArtifact {
  const file = servedArtifactFile(dataset);
  return parseArtifact(readFileSync(file), file) as ModelArtifact;
}

/** A model as the registry would hand it out, without a chain (unit tests of prediction only). */
export function unanchoredModel(artifact: AnyArtifact): LoadedModel {
  return {
    artifact,
    cid: 'bafy-not-anchored',
    metricsHash: metricsHash(artifact.metrics),
    anchor: { txHash: '0x00', blockNumber: 0 },
    predictor: predictorOf(artifact),
  };
}

/**
 * A chart in memory that answers `find` as RecordService.openChart does from Postgres (metadata of
 * each resource, newest first by clinical time, then id; undated resources at `writtenAt`) and counts
 * what `read` decrypts.
 */
export function memoryChart(
  resources: readonly Resource[],
  writtenAt = new Date('2025-06-01T00:00:00Z'),
): ChartRead & { decrypted: number; inChartOrder: Resource[] } {
  const entries = resources
    .map((resource, i) => {
      const meta = recordMetadataOf(resource);
      const id = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
      return { id, effectiveAt: meta.effectiveAt ?? writtenAt, meta, resource };
    })
    .sort((a, b) => b.effectiveAt.getTime() - a.effectiveAt.getTime() || (a.id < b.id ? 1 : -1));
  const byId = new Map(entries.map((e) => [e.id, e]));
  const chart = {
    decrypted: 0,
    inChartOrder: entries.map((e) => e.resource),
    async find(queries: readonly ChartQuery[]): Promise<ChartEntry[][]> {
      return queries.map((q) =>
        entries
          .filter(
            (e) =>
              e.resource.resourceType === q.resourceType &&
              (!q.codes || q.codes.some((code) => e.meta.codes.includes(code))) &&
              (!q.until || e.effectiveAt.getTime() <= q.until.getTime()) &&
              !q.excludeStatus?.includes(e.meta.status ?? ''),
          )
          .map((e) => ({ id: e.id, effectiveAt: e.effectiveAt })),
      );
    },
    async read(list: readonly ChartEntry[]): Promise<Resource[]> {
      chart.decrypted += list.length;
      return list.map((entry) => byId.get(entry.id)!.resource);
    },
  };
  return chart;
}
