import { getIntrospectionQuery, parse, specifiedRules, validate, type GraphQLSchema } from 'graphql';
import { limitRules } from '../../src/api/document-limits.js';
import { buildGraphQLSchema } from '../../src/app.js';

/** The reasons our limits give for a document, over the real schema (graphql's own rules must pass). */
function refusals(schema: GraphQLSchema, query: string, maxCost = 100_000) {
  const document = parse(query);
  expect(validate(schema, document, specifiedRules)).toEqual([]);
  return validate(schema, document, limitRules({ maxCost })).map((e) => e.extensions);
}

/** The cost the rule computes, read from its refusal at a limit nothing is under. */
function cost(schema: GraphQLSchema, query: string): number {
  const [refusal] = refusals(schema, query, -1).filter((e) => e.reason === 'QUERY_TOO_COSTLY');
  return refusal.cost as number;
}

const P = '"0x0000000000000000000000000000000000000001"';

describe('document limits: cost, depth, aliases, directives', () => {
  let schema: GraphQLSchema;
  beforeAll(async () => {
    schema = await buildGraphQLSchema();
  });

  it('charges a connection its `first` times its children, and the default page when absent', () => {
    // phr 1 + timeline (1 + 500 × (edges 1 + 1 × (node 1 + resource 1))) = 1 + 1 + 1500
    expect(
      cost(schema, `{ phr(patient: ${P}) { timeline(first: 500) { edges { node { resource } } } } }`),
    ).toBe(1502);
    // timeline's schema default is 20; auditTrail has none, so the default page size (50) is charged.
    expect(cost(schema, `{ phr(patient: ${P}) { timeline { edges { node { id } } } } }`)).toBe(
      1 + 1 + 20 * 3,
    );
    expect(cost(schema, `{ auditTrail(patient: ${P}) { edges { node { seq } } } }`)).toBe(1 + 50 * 3);
  });

  it('charges `first: $n` its declared default, else the largest page', () => {
    const query = (declaration: string) =>
      `query (${declaration}) { phr(patient: ${P}) { timeline(first: $n) { edges { node { id } } } } }`;
    expect(cost(schema, query('$n: Int = 10'))).toBe(2 + 10 * 3);
    expect(cost(schema, query('$n: Int!'))).toBe(2 + 500 * 3);
  });

  it('charges lists of objects without `first` (history) the default page size', () => {
    expect(cost(schema, `{ record(id: "x") { history { version cid } } }`)).toBe(1 + 1 + 50 * 2);
  });

  it('counts fields inside inline and named fragments and every alias', () => {
    const page = `timeline(first: 500) { edges { node { resource } } }`;
    const direct = cost(schema, `{ phr(patient: ${P}) { ${page} } }`);
    expect(cost(schema, `{ ... on Query { phr(patient: ${P}) { ... on PatientChart { ${page} } } } }`)).toBe(
      direct,
    );
    expect(cost(schema, `fragment T on PatientChart { ${page} } { phr(patient: ${P}) { ...T } }`)).toBe(
      direct,
    );
    const aliased = Array.from({ length: 10 }, (_, i) => `a${i}: phr(patient: ${P}) { ${page} }`).join(' ');
    expect(cost(schema, `{ ${aliased} }`)).toBe(10 * direct);
  });

  it('refuses 150 aliased 500-record timelines for cost as well as for aliases', () => {
    const aliased = Array.from(
      { length: 150 },
      (_, i) => `t${i}: phr(patient: ${P}) { timeline(first: 500) { edges { node { resource } } } }`,
    ).join(' ');
    const reasons = refusals(schema, `{ ${aliased} }`).map((e) => e?.reason);
    expect(reasons).toEqual(expect.arrayContaining(['TOO_MANY_ALIASES', 'QUERY_TOO_COSTLY']));
  });

  it('refuses root fields hidden in an inline fragment, and too deep or too many directives', () => {
    const hidden = Array.from({ length: 60 }, (_, i) => `m${i}: me { address }`).join(' ');
    expect(refusals(schema, `{ ... on Query { ${hidden} } }`)).toEqual([
      expect.objectContaining({ code: 'GRAPHQL_VALIDATION_FAILED', reason: 'TOO_MANY_ALIASES' }),
    ]);
    const ofTypes = 'ofType { '.repeat(20) + 'name' + ' }'.repeat(20);
    expect(refusals(schema, `{ __schema { types { fields { type { ${ofTypes} } } } } }`)).toEqual([
      expect.objectContaining({ reason: 'TOO_DEEP' }),
    ]);
    const directives = ' __typename @include(if: true)'.repeat(51);
    expect(refusals(schema, `{ ${directives} }`)).toEqual([
      expect.objectContaining({ reason: 'TOO_MANY_DIRECTIVES' }),
    ]);
  });

  it('lets the standard introspection query and ordinary queries through', () => {
    expect(refusals(schema, getIntrospectionQuery())).toEqual([]);
    expect(
      refusals(schema, `{ me { address } phr(patient: ${P}) { timeline(first: 100) { totalCount } } }`),
    ).toEqual([]);
  });
});
