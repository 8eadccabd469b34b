import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { Resource } from '@medplum/fhirtypes';
import { extractFeatures } from '../../src/ml/chart-features.js';
import { RecordReader } from '../../src/records/record-reader.js';
import { stopTestDatabaseServer } from '../helpers/test-database.js';
import { signIn, startTestNode, type SignedInUser, type TestNode } from '../helpers/test-node.js';
import { servedArtifact } from '../ml/helpers.js';
import { IMPORT_BUNDLE } from '../records/chart-documents.js';

// 1,789 entries: Patient 1, Observation 1,027, Condition 15 (test/fixtures/synthea/README.md).
const bundle = JSON.parse(
  execFileSync(
    'bzcat',
    [
      path.join(
        import.meta.dirname,
        '..',
        'fixtures',
        'synthea',
        'f0f322e5-2683-5a04-0e17-3b765f92072f.json.bz2',
      ),
    ],
    { maxBuffer: 64 * 1024 * 1024 },
  ).toString('utf8'),
);
const ckd = servedArtifact('ckd');

const PREDICT = `query ($p: String!) { predictForPatient(patient: $p, model: "${ckd.modelId}") {
  label probability sources missing { feature reason detail } } }`;
const PAGE = `query ($p: String!, $after: String) { phr(patient: $p) {
  timeline(first: 500, after: $after, types: ["Patient", "Observation", "Condition"]) {
    edges { node { resource } } pageInfo { hasNextPage endCursor } } } }`;

type Source = { feature: string; value: number; resourceId?: string };
type Prediction = {
  label: number;
  probability: number;
  sources: Source[];
  missing: { feature: string; reason: string; detail: string | null }[];
};

/** Whole years from 1994-07-22 (the fixture's birthDate) to today, in UTC. */
function ageToday(): number {
  const now = new Date();
  const birthdayPassed = now.getUTCMonth() > 6 || (now.getUTCMonth() === 6 && now.getUTCDate() >= 22);
  return now.getUTCFullYear() - 1994 - (birthdayPassed ? 0 : 1);
}

describe('predictForPatient on a chart larger than the decryption cap', () => {
  let test: TestNode;
  let patient: SignedInUser;
  let decrypted = 0;

  beforeAll(async () => {
    test = await startTestNode(); // the default cap: 1,000 decryptions per operation
    expect(test.config.limits.maxDecryptionsPerOperation).toBe(1000);
    patient = await signIn(test, 'PATIENT');
    const { importBundle } = await patient.client.request<{ importBundle: { written: boolean } }>(
      IMPORT_BUNDLE,
      { patient: patient.address, bundle },
    );
    expect(importBundle.written).toBe(true);
    // Every decryption of a read goes through RecordReader.readResources (the reader behind RecordService).
    const readResources = RecordReader.prototype.readResources;
    RecordReader.prototype.readResources = async function (list, budget) {
      decrypted += list.length;
      return readResources.call(this, list, budget);
    };
  });

  afterAll(async () => {
    await test?.close();
    await stopTestDatabaseServer();
  });

  it('holds more Patient, Observation and Condition records than one operation may decrypt', async () => {
    const [{ count }] = await test.node.database.dataSource.query(
      `SELECT count(*)::int AS count FROM record
        WHERE patient = $1 AND resource_type IN ('Patient', 'Observation', 'Condition')`,
      [patient.address.toLowerCase()],
    );
    // What the whole-chart read decrypted before: refused with TOO_MANY_DECRYPTIONS.
    expect(count).toBe(1043);
  });

  let prediction: Prediction;

  it('predicts, decrypting the Patient, the latest record of each feature and the hypertension Condition: 12', async () => {
    decrypted = 0;
    prediction = (
      await patient.client.request<{ predictForPatient: Prediction }>(PREDICT, { p: patient.address })
    ).predictForPatient;
    expect(decrypted).toBe(12);
    expect(prediction.probability).toBeGreaterThanOrEqual(0);
    expect(prediction.probability).toBeLessThanOrEqual(1);
  });

  it('uses the values read off the fixture by hand: latest per LOINC code, units converted', () => {
    const byFeature = Object.fromEntries(prediction.sources.map((s) => [s.feature, s]));
    const expected: Record<string, [number, string]> = {
      bp: [85, 'b7fa73bf-3981-5db2-4c48-1d567e260eea'], // diastolic component of 2020-11-06's panel
      bgr: [85, '8f557b10-fb2c-a6d1-15a2-ccac00d7b262'], // glucose 2345-7, 2020-03-22
      bu: [15.12, '4b671732-3324-82e2-5aac-23fc4391a23c'], // urea nitrogen 3094-0
      sc: [2.5614, '5416ebd0-3d76-1a34-64c6-a5214c2f2f37'], // creatinine 2160-0
      sod: [139.12, '29b56f26-836f-aa09-faab-79079999ad48'],
      pot: [5.19, '44dc0f1a-a3ce-150c-3b4f-038234139bb4'],
      hemo: [13.589, 'a5f2b335-83a3-7dce-2cdb-2bf59b5d637e'], // 2020-11-06
      pcv: [37.254, 'f75d0c6a-4a44-a8e0-b831-7434e7d6e7cd'],
      wc: [4286.9, '829c79d8-0bcc-7366-f43d-eaa5e7015a23'], // 4.2869 10*3/uL → /uL
      rc: [4.0888, 'a90ba39f-ac49-7d0c-a87d-dd45245f0547'],
      htn: [1, '3b7681cb-a782-a220-6a77-12a373d5cd76'], // active Hypertension 59621000 since 2012
    };
    for (const [feature, [value, resourceId]] of Object.entries(expected)) {
      expect(byFeature[feature].value).toBeCloseTo(value, 9);
      expect(byFeature[feature].resourceId).toBe(resourceId);
    }
    expect(byFeature.age).toMatchObject({
      value: ageToday(),
      resourceId: 'f0f322e5-2683-5a04-0e17-3b765f92072f',
    });
    for (const feature of ['dm', 'cad', 'ane']) expect(byFeature[feature].value).toBe(0);
    expect(prediction.missing.map((m) => m.feature).sort()).toEqual(
      ['al', 'appet', 'ba', 'pc', 'pcc', 'pe', 'rbc', 'sg', 'su'].sort(),
    );
  });

  it('gives exactly what the whole-chart computation gives on all 1,043 records, read page by page', async () => {
    const resources: Resource[] = [];
    let after: string | null = null;
    do {
      type Page = {
        phr: {
          timeline: {
            edges: { node: { resource: Resource } }[];
            pageInfo: { hasNextPage: boolean; endCursor: string | null };
          };
        };
      };
      const page: Page = await patient.client.request<Page>(PAGE, { p: patient.address, after });
      resources.push(...page.phr.timeline.edges.map((e) => e.node.resource));
      after = page.phr.timeline.pageInfo.hasNextPage ? page.phr.timeline.pageInfo.endCursor : null;
    } while (after);
    expect(resources).toHaveLength(1043);
    const whole = extractFeatures(ckd.features, resources, new Date());
    expect(prediction.sources).toEqual(JSON.parse(JSON.stringify(whole.sources)));
    expect(prediction.missing).toEqual(whole.missing.map((m) => ({ detail: null, ...m })));
  });
});
