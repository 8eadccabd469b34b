import { getIntrospectionQuery } from 'graphql';
import { ADD_RECORD } from '../../examples/client.js';
import { RecordEntity } from '../../src/storage/entities/index.js';
import { stopTestDatabaseServer } from '../helpers/test-database.js';
import { signIn, startTestNode, type SignedInUser, type TestNode } from '../helpers/test-node.js';

type ErrorBody = {
  errors?: { message: string; extensions?: { code?: string; reason?: string } }[];
  data?: unknown;
};

describe('hostile and malformed input', () => {
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

  async function stored(): Promise<{ records: number; blocks: number }> {
    let blocks = 0;
    for await (const _ of test.node.content.blocks()) blocks += 1;
    return { records: await test.node.database.dataSource.getRepository(RecordEntity).count(), blocks };
  }

  async function post(
    body: string,
    contentType = 'application/json',
    authorization: string | null = `Bearer ${patient.client.token}`,
  ): Promise<{ status: number; body: ErrorBody }> {
    const response = await fetch(test.node.url, {
      method: 'POST',
      headers: { 'content-type': contentType, ...(authorization ? { authorization } : {}) },
      body,
    });
    return { status: response.status, body: (await response.json()) as ErrorBody };
  }

  async function addRecord(resource: unknown) {
    return patient.client.send(ADD_RECORD, { patient: patient.address, resource });
  }

  /** Runs a hostile request, then checks nothing was stored and the node still answers. */
  async function expectRejected(
    run: () => Promise<{ code?: string; reason?: string }>,
    code: string,
    reason?: string,
  ) {
    const before = await stored();
    const outcome = await run();
    expect(outcome.code).toBe(code);
    if (reason) expect(outcome.reason).toBe(reason);
    expect(await stored()).toEqual(before);
    const alive = await patient.client.request<{ me: { address: string } }>(`{ me { address } }`);
    expect(alive.me.address).toBe(patient.address);
  }

  const firstError = (response: ErrorBody) => response.errors?.[0]?.extensions ?? {};

  it('a body that is not JSON', async () => {
    await expectRejected(async () => {
      const response = await post('{"query": "{ me { address } ');
      expect(response.status).toBe(400);
      return firstError(response.body);
    }, 'BAD_REQUEST');
  });

  it('a resource that is not JSON, not an object, or not FHIR', async () => {
    await expectRejected(
      async () => firstError(await addRecord('this is not json')),
      'BAD_USER_INPUT',
      'NOT_AN_OBJECT',
    );
    await expectRejected(
      async () => firstError(await addRecord([1, 2, 3])),
      'BAD_USER_INPUT',
      'NOT_AN_OBJECT',
    );
    await expectRejected(async () => firstError(await addRecord({ hello: 'world' })), 'BAD_USER_INPUT');
    await expectRejected(
      async () => firstError(await addRecord({ resourceType: 'Observation', status: 'final' })),
      'BAD_USER_INPUT',
      'INVALID_RESOURCE',
    );
  });

  it('an unknown resourceType', async () => {
    await expectRejected(
      async () => firstError(await addRecord({ resourceType: 'Spaceship', id: 'x' })),
      'BAD_USER_INPUT',
      'UNKNOWN_RESOURCE_TYPE',
    );
  });

  it('a body over the signed-in limit (33 MB), refused with 413 before it is parsed', async () => {
    const huge = {
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'x' },
      note: [{ text: 'a'.repeat(33 * 1024 * 1024) }],
    };
    await expectRejected(async () => {
      const response = await post(
        JSON.stringify({ query: ADD_RECORD, variables: { patient: patient.address, resource: huge } }),
      );
      expect(response.status).toBe(413);
      expect(response.body.errors?.[0].message).toBe('request body is over the 33554432-byte limit');
      return firstError(response.body);
    }, 'PAYLOAD_TOO_LARGE');
  });

  it.each([
    ['no session token', null],
    ['an unknown session token', `Bearer ${'x'.repeat(43)}`],
    ['a malformed authorization header', 'Basic dXNlcjpwYXNz'],
  ])('a 2 MB body with %s, refused at the anonymous limit (1 MB)', async (_case, authorization) => {
    const body = JSON.stringify({
      query: ADD_RECORD,
      variables: {
        patient: patient.address,
        resource: {
          resourceType: 'Observation',
          status: 'final',
          code: { text: 'c'.repeat(2 * 1024 * 1024) },
        },
      },
    });
    await expectRejected(async () => {
      const response = await post(body, 'application/json', authorization);
      expect(response.status).toBe(413);
      expect(response.body.errors?.[0].message).toBe(
        'request body is over the 1048576-byte limit without a valid session token; signed-in callers may send more',
      );
      return firstError(response.body);
    }, 'PAYLOAD_TOO_LARGE');
  });

  it('a resource over the resource limit but under the body limit', async () => {
    const big = {
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'x' },
      note: [{ text: 'b'.repeat(2 * 1024 * 1024) }],
    };
    await expectRejected(async () => firstError(await addRecord(big)), 'PAYLOAD_TOO_LARGE');
  });

  it('JSON nested 10,000 deep', async () => {
    const deep = '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000);
    const body = `{"query":${JSON.stringify(ADD_RECORD)},"variables":{"patient":"${patient.address}","resource":${deep}}}`;
    await expectRejected(
      async () => {
        const response = await post(body);
        expect(response.status).toBe(400);
        return firstError(response.body);
      },
      'BAD_USER_INPUT',
      'TOO_DEEP',
    );
  });

  it('malformed and abusive GraphQL documents', async () => {
    await expectRejected(
      async () => firstError((await post(JSON.stringify({ query: '{ me { address ' }))).body),
      'GRAPHQL_PARSE_FAILED',
    );
    await expectRejected(
      async () => firstError((await post(JSON.stringify({ query: '{ nope }' }))).body),
      'GRAPHQL_VALIDATION_FAILED',
    );
    const tooManyTokens = `{ ${'me { address } '.repeat(2_000)} }`;
    await expectRejected(
      async () => firstError((await post(JSON.stringify({ query: tooManyTokens }))).body),
      'GRAPHQL_PARSE_FAILED',
    );
    const ofTypes = 'ofType { '.repeat(20) + 'name' + ' }'.repeat(20);
    const tooDeep = `{ __schema { types { fields { type { ${ofTypes} } } } } }`;
    await expectRejected(
      async () => firstError((await post(JSON.stringify({ query: tooDeep }))).body),
      'GRAPHQL_VALIDATION_FAILED',
      'TOO_DEEP',
    );
    // Aliases multiplying an expensive field, and fragments that fan out, are refused before running.
    const aliases = Array.from({ length: 21 }, (_, i) => `a${i}: me { address }`).join(' ');
    await expectRejected(
      async () => firstError((await post(JSON.stringify({ query: `{ ${aliases} }` }))).body),
      'GRAPHQL_VALIDATION_FAILED',
      'TOO_MANY_ALIASES',
    );
    // Each spread is charged where it is used: 2^16 copies of four fields are over the cost limit.
    const fanOut =
      'fragment F0 on Account { address displayName role boxPublicKey } ' +
      Array.from({ length: 16 }, (_, i) => `fragment F${i + 1} on Account { ...F${i} ...F${i} }`).join(' ') +
      ' { me { ...F16 } }';
    await expectRejected(
      async () => firstError((await post(JSON.stringify({ query: fanOut }))).body),
      'GRAPHQL_VALIDATION_FAILED',
      'QUERY_TOO_COSTLY',
    );
    // 400 fragments each spreading the previous one twice: 2^400 paths; a naive walk would never return.
    const exponential =
      'fragment G0 on Account { address } ' +
      Array.from({ length: 400 }, (_, i) => `fragment G${i + 1} on Account { ...G${i} ...G${i} }`).join(' ') +
      ' { me { ...G400 } }';
    await expectRejected(
      async () => firstError((await post(JSON.stringify({ query: exponential }))).body),
      'GRAPHQL_VALIDATION_FAILED',
      'QUERY_TOO_COSTLY',
    );
    // The standard introspection query that tools send stays within the limit.
    const introspection = await post(JSON.stringify({ query: getIntrospectionQuery() }));
    expect(introspection.body.errors).toBeUndefined();
  });

  it('a bad patient address and a bad record id', async () => {
    await expectRejected(
      async () =>
        firstError(
          await patient.client.send(ADD_RECORD, {
            patient: 'not-an-address',
            resource: { resourceType: 'Basic' },
          }),
        ),
      'BAD_USER_INPUT',
    );
    await expectRejected(
      async () => firstError(await patient.client.send(`{ record(id: "1; DROP TABLE record") { id } }`)),
      'BAD_USER_INPUT',
    );
    await expectRejected(
      async () =>
        firstError(
          await patient.client.send(`{ record(id: "00000000-0000-4000-8000-000000000000") { id } }`),
        ),
      'NOT_FOUND',
    );
  });

  // Found by test/api/fuzz.int.test.ts: these were INTERNAL_SERVER_ERROR (with HTTP 400).
  it.each([
    [
      'a hash that does not match the query',
      { version: 1, sha256Hash: 'x' },
      'provided sha does not match query',
    ],
    ['an unknown version', { version: 2, sha256Hash: 'x' }, 'Unsupported persisted query version'],
  ])('a persisted query with %s: BAD_REQUEST', async (_label, persistedQuery, message) => {
    await expectRejected(async () => {
      const response = await post(
        JSON.stringify({ query: '{ me { address } }', extensions: { persistedQuery } }),
      );
      expect(response.status).toBe(400);
      expect(response.body.errors).toEqual([{ message, extensions: { code: 'BAD_REQUEST' } }]);
      return firstError(response.body);
    }, 'BAD_REQUEST');
  });

  // Found by fuzzing: graphql-js's subscription rule threw on `@skip(if: $x)` and Apollo answered 500.
  it.each([
    'subscription ($x: Boolean!) { recordAdded(patient: "0x0") @skip(if: $x) { id } }',
    '{ me { address } } subscription S { recordAdded(patient: "0x0") { id } }',
  ])('a subscription over HTTP (%s): BAD_REQUEST', async (query) => {
    await expectRejected(async () => {
      const response = await post(JSON.stringify({ query }));
      expect(response.status).toBe(400);
      return firstError(response.body);
    }, 'BAD_REQUEST');
  });

  it('never leaks internals in error messages', async () => {
    const response = await addRecord({ resourceType: 'Observation', status: 'final' });
    const text = JSON.stringify(response);
    expect(text).not.toMatch(/at .*\.(ts|js):\d+|SELECT|INSERT|stacktrace/i);
  });
});
