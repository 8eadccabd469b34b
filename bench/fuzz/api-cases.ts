/**
 * Fuzz cases sent to a running node over real HTTP, and what every answer must look like: a
 * well-formed GraphQL-over-HTTP response whose errors carry a stable code, never a 5xx or
 * INTERNAL_SERVER_ERROR; a write that succeeds reads back equal to what was sent.
 */
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { ADD_RECORD, IMPORT_BUNDLE, READ_RECORD } from '../../examples/client.js';
import { anyJson, mutatedResource, oddNumber, oddString, type Json } from './fhir-cases.js';
import { FuzzFailure, showCase } from './verdicts.js';

/** `extensions.code` values a client may see: ours (src/errors.ts) and GraphQL's request errors. */
export const KNOWN_CODES: ReadonlySet<string> = new Set([
  'BAD_USER_INPUT',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'CONFLICT',
  'PAYLOAD_TOO_LARGE',
  'INTEGRITY_ERROR',
  'RATE_LIMITED',
  'SERVICE_UNAVAILABLE',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
]);

export interface FuzzTarget {
  url: string;
  /** A patient's session token; `patient` is that patient's address. */
  token: string;
  patient: string;
}

interface GraphQLBody {
  data?: Record<string, unknown> | null;
  errors?: { message: string; extensions?: { code?: unknown } }[];
}

export interface Answer {
  status: number;
  body: GraphQLBody;
  /** Codes of the errors, in order. */
  codes: string[];
}

/** Posts a raw request body and checks the answer is well-formed with known codes only. */
export async function post(target: FuzzTarget, body: string, authorized = true): Promise<Answer> {
  const response = await fetch(target.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...(authorized ? { authorization: `Bearer ${target.token}` } : {}),
    },
    body,
  });
  const text = await response.text();
  const where = () => `\n  request: ${body.length > 1_500 ? `${body.slice(0, 1_500)}...` : body}`;
  if (response.status >= 500)
    throw new FuzzFailure(`HTTP ${response.status}: ${text.slice(0, 300)}${where()}`);
  const type = response.headers.get('content-type') ?? '';
  if (!/^application\/(graphql-response\+)?json/.test(type)) {
    throw new FuzzFailure(
      `HTTP ${response.status} with content-type ${type}: ${text.slice(0, 200)}${where()}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new FuzzFailure(`HTTP ${response.status}: body is not JSON: ${text.slice(0, 200)}${where()}`);
  }
  const problem = shapeProblem(parsed, response.status);
  if (problem) throw new FuzzFailure(`${problem}: ${text.slice(0, 300)}${where()}`);
  const answer = parsed as GraphQLBody;
  const codes = (answer.errors ?? []).map((e) => String(e.extensions?.code));
  const unknown = codes.find((code) => !KNOWN_CODES.has(code));
  if (unknown) throw new FuzzFailure(`error code ${unknown}: ${text.slice(0, 300)}${where()}`);
  return { status: response.status, body: answer, codes };
}

/** What is wrong with a GraphQL-over-HTTP response body, if anything. */
function shapeProblem(body: unknown, status: number): string | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'body is not a JSON object';
  const { data, errors } = body as Record<string, unknown>;
  if (errors !== undefined) {
    if (!Array.isArray(errors) || errors.length === 0) return 'errors is not a non-empty array';
    for (const error of errors) {
      if (
        typeof error !== 'object' ||
        error === null ||
        typeof (error as { message?: unknown }).message !== 'string'
      )
        return 'an error without a message';
    }
  }
  if (data !== undefined && data !== null && (typeof data !== 'object' || Array.isArray(data)))
    return 'data is not an object';
  if (errors === undefined && (data === undefined || data === null)) return 'neither data nor errors';
  if (status !== 200 && errors === undefined) return `HTTP ${status} without errors`;
  return undefined;
}

/** One write the node acknowledged. */
export interface Written {
  id: string;
  version: number;
}

export type WriteCase =
  { kind: 'addRecord'; resource: Json } | { kind: 'importBundle'; resources: Json[]; transaction: boolean };

/** addRecord of a mutated resource, or importBundle of one to three of them. */
export function writeCase(seeds: Parameters<typeof mutatedResource>[0]): fc.Arbitrary<WriteCase> {
  const one = mutatedResource(seeds).map((m) => m.resource as Json);
  return fc.oneof(
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('addRecord' as const), resource: one }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('importBundle' as const),
        resources: fc.array(one, { minLength: 1, maxLength: 3 }),
        transaction: fc.boolean(),
      }),
    },
  );
}

let bundleCounter = 0;

/**
 * Sends the case; every answer must be well-formed with known codes, and every write it reports
 * must read back equal to what was sent (as JSON: `-0` and `1e-400` become `0` on the way).
 * @returns the writes the node acknowledged
 */
export async function runWriteCase(target: FuzzTarget, c: WriteCase): Promise<Written[]> {
  if (c.kind === 'addRecord') {
    const body = JSON.stringify({
      query: ADD_RECORD,
      variables: { patient: target.patient, resource: c.resource },
    });
    const answer = await post(target, body);
    const added = answer.body.data?.addRecord as { id: string; version: number } | null | undefined;
    if (!added) {
      if (answer.codes.length === 0) throw new FuzzFailure(`addRecord: no record and no error`);
      return [];
    }
    await expectReadBack(target, added.id, c.resource);
    return [{ id: added.id, version: added.version }];
  }

  bundleCounter += 1;
  const entry = c.resources.map((resource, i) => ({
    fullUrl: `urn:uuid:00000000-0000-4000-8000-${String(bundleCounter * 10 + i).padStart(12, '0')}`,
    resource,
    ...(c.transaction ? { request: { method: 'POST', url: typeOf(resource) } } : {}),
  }));
  const bundle = { resourceType: 'Bundle', type: c.transaction ? 'transaction' : 'collection', entry };
  const answer = await post(
    target,
    JSON.stringify({ query: IMPORT_BUNDLE, variables: { patient: target.patient, bundle } }),
  );
  const result = answer.body.data?.importBundle as
    | {
        written: boolean;
        entries: { index: number; recordId: string | null; version: number | null; outcome: string }[];
      }
    | null
    | undefined;
  if (!result) return [];
  const writes: Written[] = [];
  for (const e of result.entries) {
    const wrote = e.outcome === 'CREATED' || e.outcome === 'UPDATED';
    if (wrote && !result.written)
      throw new FuzzFailure(`entry ${e.index} ${e.outcome} in an unwritten import`);
    if (!result.written || e.outcome === 'REJECTED') continue;
    if (!e.recordId || !e.version) throw new FuzzFailure(`entry ${e.index} ${e.outcome} without a record`);
    await expectReadBack(target, e.recordId, c.resources[e.index]);
    if (wrote) writes.push({ id: e.recordId, version: e.version });
  }
  return writes;
}

async function expectReadBack(target: FuzzTarget, id: string, sent: Json): Promise<void> {
  const answer = await post(target, JSON.stringify({ query: READ_RECORD, variables: { id } }));
  const record = answer.body.data?.record as { resource: unknown } | undefined;
  const expected = JSON.parse(JSON.stringify(sent)) as unknown;
  if (!record || !isDeepStrictEqual(record.resource, expected)) {
    throw new FuzzFailure(
      `record ${id} reads back ${showCase(record?.resource ?? answer.body.errors)}\n  sent ${showCase(sent)}`,
    );
  }
}

function typeOf(resource: Json): string {
  const type = (resource as { resourceType?: unknown } | null)?.resourceType;
  return typeof type === 'string' ? type : 'Basic';
}

/** The names a document generator draws from, read from the node's own schema. */
export interface SchemaSketch {
  queryFields: string[];
  mutationFields: string[];
  subscriptionFields: string[];
  fieldNames: string[];
  argNames: string[];
  typeNames: string[];
}

const SKETCH_QUERY = `{ __schema {
  queryType { name } mutationType { name } subscriptionType { name }
  types { name kind fields { name args { name } } }
} }`;

// `logout` would end the session the rest of the run uses: legitimate, but not a fuzz finding.
const SPARED_FIELDS = new Set(['logout']);

export async function sketchSchema(target: FuzzTarget): Promise<SchemaSketch> {
  const answer = await post(target, JSON.stringify({ query: SKETCH_QUERY }));
  const schema = answer.body.data?.__schema as {
    queryType: { name: string };
    mutationType: { name: string } | null;
    subscriptionType: { name: string } | null;
    types: { name: string; kind: string; fields: { name: string; args: { name: string }[] }[] | null }[];
  };
  const fieldsOf = (name: string | undefined) =>
    (schema.types.find((t) => t.name === name)?.fields ?? [])
      .map((f) => f.name)
      .filter((f) => !SPARED_FIELDS.has(f));
  const fieldNames = new Set<string>();
  const argNames = new Set<string>();
  for (const type of schema.types) {
    if (type.name.startsWith('__')) continue;
    for (const field of type.fields ?? []) {
      fieldNames.add(field.name);
      for (const arg of field.args) argNames.add(arg.name);
    }
  }
  return {
    queryFields: fieldsOf(schema.queryType.name),
    mutationFields: fieldsOf(schema.mutationType?.name),
    subscriptionFields: fieldsOf(schema.subscriptionType?.name),
    fieldNames: [...fieldNames].filter((f) => !SPARED_FIELDS.has(f)),
    argNames: [...argNames],
    typeNames: schema.types.map((t) => t.name).filter((n) => !n.startsWith('__')),
  };
}

export interface DocumentCase {
  /** The request body as sent (usually `{query, variables}`, sometimes not even that). */
  body: string;
  authorized: boolean;
}

const name = fc.stringMatching(/^[_A-Za-z][_0-9A-Za-z]{0,10}$/);

// Valid documents, so that fuzzed variables reach the resolvers and not only the validator.
const VALID_DOCUMENTS = [
  `query ($first: Int) { a: me { address ...A } b: me { ... on Account { address } } } fragment A on Account { address }`,
  `query ($patient: String!, $first: Int!, $after: String, $types: [String!], $from: String, $to: String, $code: String) {
    phr(patient: $patient) {
      timeline(first: $first, after: $after, types: $types, from: $from, to: $to, code: $code) {
        totalCount edges { cursor node { id resourceType resource history { version } } } pageInfo { hasNextPage endCursor }
      }
    }
  }`,
  `query ($id: ID!) { record(id: $id) { id resourceType version resource } }`,
  `query ($id: ID!) { verifyRecord(id: $id) { __typename } }`,
  `query ($patient: String!, $first: Int) {
    grants(patient: $patient) { __typename }
    auditTrail(patient: $patient, first: $first) { __typename }
    alerts(patient: $patient, first: $first) { __typename }
  }`,
  `query ($patient: String!) { account(address: $patient) { address } breakGlassPolicy(patient: $patient) { __typename } }`,
  `query ($patient: String!, $resource: JSON!) { recordTypedData(patient: $patient, resource: $resource) }`,
];

/** GraphQL documents and request bodies built from the schema's names, valid and otherwise. */
export function documentCase(sketch: SchemaSketch, patient: string): fc.Arbitrary<DocumentCase> {
  const pick = (names: string[]) => (names.length > 0 ? fc.constantFrom(...names) : name);
  const fieldName = fc.oneof(
    { weight: 6, arbitrary: pick(sketch.fieldNames) },
    { weight: 1, arbitrary: name },
  );
  const argName = fc.oneof({ weight: 4, arbitrary: pick(sketch.argNames) }, { weight: 1, arbitrary: name });
  const typeName = fc.oneof({ weight: 4, arbitrary: pick(sketch.typeNames) }, { weight: 1, arbitrary: name });
  const variable = fc.constantFrom('$first', '$id', '$patient', '$x', '$undeclared');

  const value: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      fc.constantFrom(
        '1e308',
        '99999999999999999999999',
        '-1',
        '0',
        '2147483648',
        '-0',
        '1.5',
        'null',
        'true',
      ),
      oddNumber.map((n) => (Number.isInteger(n) ? String(n) : String(n).replace('Infinity', '1e999'))),
      oddString.map((s) => JSON.stringify(s.slice(0, 200))),
      variable,
      fc.constantFrom('PATIENT', 'READ', 'ASC', 'Foo'),
      fc.array(tie('value'), { maxLength: 3 }).map((items) => `[${items.join(', ')}]`),
      fc
        .array(fc.tuple(name, tie('value')), { maxLength: 3 })
        .map((pairs) => `{${pairs.map(([k, v]) => `${k}: ${v}`).join(', ')}}`),
    ),
  })).value;
  const args = fc
    .array(fc.tuple(argName, value), { maxLength: 3 })
    .map((pairs) => (pairs.length === 0 ? '' : `(${pairs.map(([k, v]) => `${k}: ${v}`).join(', ')})`));
  const directive = fc.oneof(
    { weight: 5, arbitrary: fc.constant('') },
    {
      weight: 1,
      arbitrary: fc.constantFrom(' @include(if: true)', ' @skip(if: $x)', ' @deprecated', ' @foo(bar: 1)'),
    },
  );

  const selection: fc.Arbitrary<string> = fc.letrec<{ set: string; item: string }>((tie) => ({
    set: fc.array(tie('item'), { minLength: 1, maxLength: 4 }).map((items) => `{ ${items.join(' ')} }`),
    item: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc
        .tuple(fc.option(name), fieldName, args, directive)
        .map(([alias, f, a, d]) => `${alias ? `${alias}: ` : ''}${f}${a}${d}`),
      fc
        .tuple(fc.option(name), fieldName, args, tie('set'))
        .map(([alias, f, a, s]) => `${alias ? `${alias}: ` : ''}${f}${a} ${s}`),
      fc.tuple(typeName, tie('set')).map(([t, s]) => `... on ${t} ${s}`),
      fc.constantFrom('...F', '...G', '__typename', '__schema { types { name } }'),
    ),
  })).set;

  // Deep chains and wide alias fans: what cost and depth limits are for.
  const deep = fc
    .tuple(fieldName, fc.integer({ min: 10, max: 300 }))
    .map(([f, depth]) => `${`${f} { `.repeat(depth)}__typename${' }'.repeat(depth)}`);
  const wide = fc
    .tuple(pick(sketch.queryFields), args, fc.integer({ min: 10, max: 300 }))
    .map(([f, a, n]) => Array.from({ length: n }, (_, i) => `a${i}: ${f}${a} { __typename }`).join(' '));
  const rootSet = fc.oneof(
    { weight: 6, arbitrary: selection },
    { weight: 1, arbitrary: deep.map((d) => `{ ${d} }`) },
    { weight: 1, arbitrary: wide.map((w) => `{ ${w} }`) },
  );
  const fragments = fc.constantFrom(
    '',
    '',
    'fragment F on Query { __typename }',
    'fragment F on Query { ...F }',
    'fragment F on Query { ...G } fragment G on Query { ...F }',
    'fragment F on Foo { x }',
  );
  const varDefs = fc.constantFrom(
    '',
    '($first: Int, $id: ID!)',
    '($x: Boolean!)',
    '($patient: String!, $x: [Int])',
    '($first: Foo)',
  );
  const operation = fc
    .tuple(
      fc.constantFrom('', 'query', 'query', 'mutation', 'subscription'),
      fc.option(name),
      varDefs,
      rootSet,
      fragments,
    )
    .map(([kind, opName, defs, set, frags]) =>
      kind === '' ? `${set} ${frags}` : `${kind} ${opName ?? ''}${defs} ${set} ${frags}`,
    );
  // Some documents arrive damaged: a character dropped, inserted or swapped in.
  const document = fc.oneof(
    { weight: 5, arbitrary: operation },
    {
      weight: 1,
      arbitrary: fc.tuple(operation, fc.nat(), oddString).map(([doc, at, junk]) => {
        const i = at % (doc.length + 1);
        return doc.slice(0, i) + junk.slice(0, 3) + doc.slice(i + 1);
      }),
    },
    { weight: 1, arbitrary: oddString.map((s) => s.slice(0, 500)) },
  );
  const variables: fc.Arbitrary<Json> = fc.oneof(
    fc.constant({}),
    fc.record(
      {
        first: fc.oneof(oddNumber, oddString, fc.constant(null), fc.constant(1e308)),
        id: fc.oneof(oddString, oddNumber, fc.uuid()),
        patient: fc.oneof(oddString, fc.constant('0x0000000000000000000000000000000000000000')),
        x: fc.oneof(fc.boolean(), oddString, fc.array(oddNumber, { maxLength: 3 })),
      },
      { requiredKeys: [] },
    ),
  );
  const validVariables = fc.record(
    {
      patient: fc.oneof({ weight: 3, arbitrary: fc.constant(patient) }, { weight: 1, arbitrary: oddString }),
      first: fc.oneof(fc.integer({ min: 0, max: 50 }), oddNumber, fc.constant(1e308), oddString),
      after: oddString,
      types: fc.oneof(
        fc.array(fc.constantFrom('Observation', 'Patient', 'constructor'), { maxLength: 3 }),
        oddString,
      ),
      from: oddString,
      to: oddString,
      code: oddString,
      id: fc.oneof(fc.uuid(), oddString, oddNumber),
      resource: anyJson,
    },
    { requiredKeys: [] },
  );
  const valid = fc
    .tuple(fc.constantFrom(...VALID_DOCUMENTS), validVariables)
    .map(([query, vars]) => JSON.stringify({ query, variables: vars }));
  const wellShaped = fc
    .tuple(document, variables, fc.option(name))
    .map(([query, vars, operationName]) =>
      JSON.stringify({ query, variables: vars, ...(operationName ? { operationName } : {}) }),
    );
  // Bodies that are JSON but not a GraphQL request.
  const misshapen = fc.oneof(
    fc.tuple(oddNumber, variables).map(([q, v]) => JSON.stringify({ query: q, variables: v })),
    document.map((query) => JSON.stringify({ query, variables: 'not an object' })),
    document.map((query) => JSON.stringify({ query, variables: [1, 2] })),
    document.map((query) =>
      JSON.stringify({ query, extensions: { persistedQuery: { version: 1, sha256Hash: 'x' } } }),
    ),
    fc.constant(JSON.stringify({ variables: {} })),
    fc.constant('[]'),
    fc.constant('"query"'),
    fc.constant('null'),
  );
  return fc.record({
    body: fc.oneof(
      { weight: 5, arbitrary: wellShaped },
      { weight: 3, arbitrary: valid },
      { weight: 1, arbitrary: misshapen },
    ),
    authorized: fc.oneof(
      { weight: 4, arbitrary: fc.constant(true) },
      { weight: 1, arbitrary: fc.constant(false) },
    ),
  });
}
