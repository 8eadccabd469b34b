import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { parseArtifact } from '../../src/ml/artifact.js';
import { selectChartResources } from '../../src/ml/chart-features.js';
import type { LoadedModel } from '../../src/ml/model-registry.js';
import { exclusionFeature, PredictionService, type ModelAnswer } from '../../src/ml/prediction-service.js';
import { memoryChart, modelsDir, unanchoredModel } from './helpers.js';

// Synthea histories (see test/fixtures/synthea/README.md); ages as of this date.
const now = new Date('2021-07-01T00:00:00Z');
const fixtures = path.join(import.meta.dirname, '..', 'fixtures', 'synthea');
const ADULTS = ['da203ade', 'dd92a3e7', '1363ed76', 'fee04478'];
const CHILD = '728248bf';

function history(prefix: string): Resource[] {
  const file = readdirSync(fixtures).find((f) => f.startsWith(prefix))!;
  const bundle = JSON.parse(
    execFileSync('bzcat', [path.join(fixtures, file)], { maxBuffer: 64 << 20 }).toString(),
  ) as Bundle;
  return bundle.entry!.map((e) => e.resource!);
}

const models: LoadedModel[] = readdirSync(modelsDir)
  .filter((f) => f.endsWith('.model.json'))
  .map((f) => unanchoredModel(parseArtifact(readFileSync(path.join(modelsDir, f)), f)))
  .sort((a, b) => a.artifact.modelId.localeCompare(b.artifact.modelId));
const byId = new Map(models.map((m) => [m.artifact.modelId, m]));
const service = new PredictionService({ get: (id: string) => byId.get(id)! });

/** As ModelService.predictionsForPatient: select the records all models need, then answer. */
async function answersFor(resources: Resource[]): Promise<ModelAnswer[]> {
  const features = models.flatMap((m) => {
    const artifact = m.artifact;
    const population = artifact.kind === 'equation' ? artifact.population : artifact.dataset.population;
    return [
      ...artifact.features,
      ...(population.excludedBy ? [exclusionFeature(population.excludedBy.snomed)] : []),
    ];
  });
  const selected = await selectChartResources(features, now, memoryChart(resources));
  return service.predictAllFromChart(models, selected, now);
}

/**
 * Which of a model's features the bundle cannot supply, worked out from the raw JSON without the
 * feature extractor: no chart source, no Patient.birthDate / gender, or no Observation (or
 * component) with one of the LOINC codes and a numeric value dated on or before `now`.
 */
function expectedMissing(model: LoadedModel, resources: Resource[]): string[] {
  const json = resources as unknown as Json[];
  const patient = json.find((r) => r.resourceType === 'Patient')!;
  const coded = (concept: Json | undefined, codes: readonly string[]) =>
    (concept?.coding as Json[] | undefined)?.some(
      (c) => c.system === 'http://loinc.org' && codes.includes(c.code as string),
    ) ?? false;
  const observations = json.filter((r) => r.resourceType === 'Observation');
  const hasLoinc = (codes: readonly string[]) =>
    observations.some(
      (r) =>
        Date.parse((r.effectiveDateTime as string | undefined) ?? '9999') <= now.getTime() &&
        [r, ...((r.component as Json[] | undefined) ?? [])].some(
          (part) =>
            typeof (part.valueQuantity as Json | undefined)?.value === 'number' &&
            coded(part.code as Json, codes),
        ),
    );
  const hasCodedLoinc = (codes: readonly string[]) =>
    observations.some((r) => r.valueCodeableConcept !== undefined && coded(r.code as Json, codes));
  return model.artifact.features
    .filter((f) => {
      const chart = f.chart;
      if (!chart) return true;
      if (chart.kind === 'age') return !patient.birthDate;
      if (chart.kind === 'sex') return !['male', 'female'].includes(patient.gender as string);
      if (chart.kind === 'observation') return !hasLoinc(chart.loinc);
      if (chart.kind === 'coded-observation') return !hasCodedLoinc(chart.loinc);
      return false; // conditions, medications and race read absence as 0
    })
    .map((f) => f.name);
}

type Json = Record<string, unknown>;

describe('predictionsForPatient on Synthea histories', () => {
  it.each(ADULTS)(
    'answers with at least three models for adult %s, and lists what the others miss',
    async (id) => {
      const resources = history(id);
      const answers = await answersFor(resources);
      expect(answers.map((a) => a.modelId)).toEqual(models.map((m) => m.artifact.modelId));
      const answered = answers.filter((a) => a.status === 'ANSWERED');
      expect(answered.length).toBeGreaterThanOrEqual(3);
      for (const answer of answers) {
        const model = byId.get(answer.modelId)!;
        if (answer.status === 'DOES_NOT_APPLY') {
          expect(answer.reason).toMatch(/outside|trained on|ASCVD/);
          continue;
        }
        // Exactly the features the bundle lacks: imputed when answered, the refusal's list otherwise.
        expect(answer.missing.map((m) => m.feature).sort()).toEqual(expectedMissing(model, resources).sort());
        if (answer.status === 'ANSWERED') {
          const p = answer.prediction!;
          if (p.probability !== null) expect(p.probability).toBeGreaterThanOrEqual(0);
          if (p.probability !== null) expect(p.probability).toBeLessThanOrEqual(1);
        } else {
          expect(answer.status).toBe('MISSING_FEATURES');
          expect(answer.reason).toMatch(/too many features missing/);
        }
      }
      // WDBC reads cytology images: no chart supplies them.
      expect(answers.find((a) => a.modelId === 'wdbc-svm')!.status).toBe('MISSING_FEATURES');
    },
  );

  it('says which models do not apply to a 3-year-old, and why', async () => {
    const answers = await answersFor(history(CHILD));
    const status = Object.fromEntries(answers.map((a) => [a.modelId, a.status]));
    const adultOnly = models.filter((m) => {
      const population =
        m.artifact.kind === 'equation' ? m.artifact.population : m.artifact.dataset.population;
      return population.age && population.age[0] > 3;
    });
    expect(adultOnly.map((m) => m.artifact.modelId)).toEqual(
      expect.arrayContaining(['ascvd-pce', 'egfr-ckd-epi-2021']),
    );
    for (const model of adultOnly) {
      const answer = answers.find((a) => a.modelId === model.artifact.modelId)!;
      expect(answer.status).toBe('DOES_NOT_APPLY');
      expect(answer.reason).toMatch(/^age 3 is outside \d+–\d+/);
      expect(answer.prediction).toBeNull();
    }
    // CKD's rows include children (2–90): that model still applies, or says what is missing.
    expect(['ANSWERED', 'MISSING_FEATURES']).toContain(status['ckd-chart-' + ckdChartAlgorithm()]);
  });

  it('keeps the Pooled Cohort Equations from a patient with coronary heart disease', async () => {
    const answers = await answersFor(history('fee04478'));
    const pce = answers.find((a) => a.modelId === 'ascvd-pce')!;
    expect(pce.status).toBe('DOES_NOT_APPLY');
    expect(pce.reason).toMatch(/clinical ASCVD .*SNOMED (53741008|230690007)/);
  });

  it('reads an African American woman with the African American PCE coefficients', async () => {
    const answers = await answersFor(history('dd92a3e7'));
    const pce = answers.find((a) => a.modelId === 'ascvd-pce')!;
    expect(pce.status).toBe('ANSWERED');
    expect(pce.prediction!.sources.find((s) => s.feature === 'african_american')!.value).toBe(1);
  });
});

function ckdChartAlgorithm(): string {
  return models
    .find((m) => m.artifact.modelId.startsWith('ckd-chart-'))!
    .artifact.modelId.slice('ckd-chart-'.length);
}
