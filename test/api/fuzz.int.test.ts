import fc from 'fast-check';
import {
  documentCase,
  post,
  runWriteCase,
  sketchSchema,
  writeCase,
  type FuzzTarget,
  type Written,
} from '../../bench/fuzz/api-cases.js';
import { fixtureDir, loadSeedResources } from '../../bench/fuzz/fhir-cases.js';
import { stopTestDatabaseServer } from '../helpers/test-database.js';
import { signIn, startTestNode, type SignedInUser, type TestNode } from '../helpers/test-node.js';

// Fixed for reproducibility; fast-check's failure report gives the seed and path to replay a case.
const SEED = 20261201;
const WRITE_RUNS = 150;
const DOCUMENT_RUNS = 200;

describe('a real node over HTTP under fuzzed writes and GraphQL documents (fast-check)', () => {
  let test: TestNode;
  let patient: SignedInUser;
  let target: FuzzTarget;

  beforeAll(async () => {
    test = await startTestNode();
    patient = await signIn(test, 'PATIENT');
    target = { url: test.node.url, token: patient.client.token as string, patient: patient.address };
  });

  afterAll(async () => {
    await test?.close();
    await stopTestDatabaseServer();
  });

  async function footprint() {
    const [counts] = await test.node.database.dataSource.query(
      `SELECT (SELECT count(*) FROM record)::int AS records, (SELECT count(*) FROM record_version)::int AS versions`,
    );
    let blocks = 0;
    for await (const _ of test.node.content.blocks()) blocks += 1;
    return { ...counts, blocks } as { records: number; versions: number; blocks: number };
  }

  async function expectServing() {
    const alive = await patient.client.request<{ me: { address: string } }>(`{ me { address } }`);
    expect(alive.me.address).toBe(patient.address);
  }

  it(`addRecord / importBundle of mutated resources: ${WRITE_RUNS} cases, seed ${SEED}`, async () => {
    const seeds = loadSeedResources(fixtureDir(import.meta.dirname));
    const before = await footprint();
    const written = new Map<string, Written>();
    let succeeded = 0;
    console.log(`api write fuzz: ${WRITE_RUNS} cases, seed ${SEED}`);
    await fc.assert(
      fc.asyncProperty(writeCase(seeds), async (c) => {
        const writes = await runWriteCase(target, c);
        if (writes.length > 0) succeeded += 1;
        for (const w of writes) written.set(`${w.id}@${w.version}`, w);
      }),
      { seed: SEED, numRuns: WRITE_RUNS, endOnFailure: true },
    );
    const after = await footprint();
    const newRecords = [...written.values()].filter((w) => w.version === 1).length;
    console.log('api write fuzz', { succeeded, versions: written.size, newRecords, before, after });
    // Exactly what was acknowledged is stored: no half-written record or version beside it.
    expect(after.records - before.records).toBe(newRecords);
    expect(after.versions - before.versions).toBe(written.size);
    expect(after.blocks - before.blocks).toBeGreaterThanOrEqual(written.size);
    // Both ways out are exercised, or the property proves little.
    expect(succeeded).toBeGreaterThan(WRITE_RUNS / 50);
    expect(succeeded).toBeLessThan(WRITE_RUNS);
    await expectServing();
  });

  it(`generated GraphQL documents and request bodies: ${DOCUMENT_RUNS} cases, seed ${SEED}`, async () => {
    const sketch = await sketchSchema(target);
    expect(sketch.queryFields).toContain('me');
    const codes = new Map<string, number>();
    console.log(`graphql fuzz: ${DOCUMENT_RUNS} cases, seed ${SEED}`);
    await fc.assert(
      fc.asyncProperty(documentCase(sketch, patient.address), async (c) => {
        const answer = await post(target, c.body, c.authorized);
        for (const code of answer.codes.length > 0 ? answer.codes : ['(data)'])
          codes.set(code, (codes.get(code) ?? 0) + 1);
      }),
      { seed: SEED, numRuns: DOCUMENT_RUNS, endOnFailure: true },
    );
    console.log('graphql fuzz answers', Object.fromEntries(codes));
    expect(codes.get('GRAPHQL_VALIDATION_FAILED')).toBeGreaterThan(0);
    expect(codes.get('(data)')).toBeGreaterThan(0);
    await expectServing();
  });
});
