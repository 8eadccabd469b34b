import { ADD_RECORD, IMPORT_BUNDLE } from '../../examples/client.js';
import { stopTestDatabaseServer } from '../helpers/test-database.js';
import { signIn, startTestNode, type SignedInUser, type TestNode } from '../helpers/test-node.js';

type Body = {
  data?: {
    addRecord?: unknown;
    importBundle?: { written: boolean; entries: { code: string | null }[] };
  } | null;
  errors?: { message: string; extensions?: { code?: string; reason?: string; issues?: unknown } }[];
};

// Object.prototype member names sent as element names over real HTTP: refused like `foo`, nothing stored.
describe('keys named after Object.prototype members, through the GraphQL API', () => {
  let test: TestNode;
  let patient: SignedInUser;

  beforeAll(async () => {
    test = await startTestNode();
    patient = await signIn(test, 'PATIENT');
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
    return { ...counts, blocks };
  }

  /** Posts a request body written as text, so `__proto__` reaches the server as a JSON key. */
  async function post(query: string, variablesJson: string): Promise<Body> {
    const response = await fetch(test.node.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${patient.client.token}` },
      body: `{"query":${JSON.stringify(query)},"variables":${variablesJson}}`,
    });
    return (await response.json()) as Body;
  }

  it('a valid Patient is stored (the baseline the refusals are measured against)', async () => {
    const before = await footprint();
    const body = await post(
      ADD_RECORD,
      `{"patient":"${patient.address}","resource":{"resourceType":"Patient","gender":"female"}}`,
    );
    expect(body.errors).toBeUndefined();
    const after = await footprint();
    expect(after.records).toBe(before.records + 1);
    expect(after.versions).toBe(before.versions + 1);
  });

  it.each([
    ['constructor', '{"resourceType":"Patient","constructor":{"a":1}}', 'Patient.constructor'],
    ['__proto__', '{"resourceType":"Patient","__proto__":{"a":1}}', 'Patient.__proto__'],
    ['toString', '{"resourceType":"Patient","toString":"x"}', 'Patient.toString'],
    [
      'nested constructor',
      '{"resourceType":"Patient","name":[{"family":"F","constructor":{"a":1}}]}',
      'Patient.name[0].constructor',
    ],
    [
      'nested __proto__',
      '{"resourceType":"Patient","contact":[{"name":{"family":"F"},"relationship":[{"text":"x","__proto__":{"a":1}}]}]}',
      'Patient.contact[0].relationship[0].__proto__',
    ],
  ])(
    'addRecord with %s: BAD_USER_INPUT INVALID_RESOURCE naming the path, nothing stored',
    async (_l, json, path) => {
      const before = await footprint();
      const body = await post(ADD_RECORD, `{"patient":"${patient.address}","resource":${json}}`);
      expect(body.data?.addRecord ?? null).toBeNull();
      expect(body.errors?.[0]?.extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        reason: 'INVALID_RESOURCE',
        issues: [{ path, message: expect.stringContaining('Invalid additional property') }],
      });
      expect(await footprint()).toEqual(before);
    },
  );

  it.each(['constructor', '__proto__'])(
    'addRecord with %s in an inline JSON literal: refused',
    async (name) => {
      const before = await footprint();
      const query = `mutation { addRecord(patient: "${patient.address}", resource: {resourceType: "Patient", ${name}: {a: 1}}) { id } }`;
      const body = await post(query, '{}');
      expect(body.errors?.[0]?.extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        reason: 'INVALID_RESOURCE',
      });
      expect(await footprint()).toEqual(before);
    },
  );

  it.each(['constructor', '__proto__'])(
    'importBundle with %s in an entry: that entry INVALID_RESOURCE, nothing written',
    async (name) => {
      const before = await footprint();
      const bundle =
        '{"resourceType":"Bundle","type":"collection","entry":[' +
        '{"fullUrl":"urn:uuid:5f1c0e2a-0000-4000-8000-000000000001","resource":{"resourceType":"Patient","gender":"male"}},' +
        `{"fullUrl":"urn:uuid:5f1c0e2a-0000-4000-8000-000000000002","resource":{"resourceType":"Observation","status":"final","code":{"text":"x","${name}":{"a":1}}}}]}`;
      const body = await post(IMPORT_BUNDLE, `{"patient":"${patient.address}","bundle":${bundle}}`);
      expect(body.errors).toBeUndefined();
      expect(body.data?.importBundle?.written).toBe(false);
      expect(body.data?.importBundle?.entries.map((e) => e.code)).toEqual([
        'BUNDLE_REJECTED',
        'INVALID_RESOURCE',
      ]);
      expect(await footprint()).toEqual(before);
      const alive = await patient.client.request<{ me: { address: string } }>(`{ me { address } }`);
      expect(alive.me.address).toBe(patient.address);
    },
  );
});
