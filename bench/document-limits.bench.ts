/**
 * What the document limits (Armor's depth, alias and directive rules and our cost rule) add to each
 * request: graphql's validation with and without them, side by side, on the documents clients send.
 * In-process, no node: validation is CPU only. Apollo caches a validated document by its text, so this
 * is the cost for a document the server has not seen before; a repeated one pays nothing.
 *
 *   npm run bench:limits
 */
import '../src/polyfills.js';
import { performance } from 'node:perf_hooks';
import { getIntrospectionQuery, parse, specifiedRules, validate } from 'graphql';
import { limitRules } from '../src/api/document-limits.js';
import { buildGraphQLSchema } from '../src/app.js';
import { buildConfig } from '../src/config.js';

const ROUNDS = Number(process.env.BENCH_LIMITS_ROUNDS ?? 2_000);
const P = '"0x0000000000000000000000000000000000000001"';
const DOCUMENTS: Record<string, string> = {
  'me { address }': '{ me { address } }',
  'timeline page with resources': `{ phr(patient: ${P}) { timeline(first: 20) {
    edges { cursor node { id resourceType effectiveAt resource history { version cid } } }
    pageInfo { hasNextPage endCursor } } } }`,
  'chart summary': `{ phr(patient: ${P}) { summary { total counts { resourceType count }
    vitalSigns { kind value unit effectiveAt } activeConditions { id resource } allergies { id resource } } } }`,
  'introspection query': getIntrospectionQuery(),
  '150 aliased timeline(first: 500)': `{ ${Array.from(
    { length: 150 },
    (_, i) => `t${i}: phr(patient: ${P}) { timeline(first: 500) { edges { node { resource } } } }`,
  ).join(' ')} }`,
};

/**
 * Median microseconds per call of `a` and of `b`, measured in alternating batches so that load from
 * other processes falls on both alike.
 */
function sideBySide(a: () => unknown, b: () => unknown): [number, number] {
  const batch = 50;
  const times: [number[], number[]] = [[], []];
  for (let round = 0; round < ROUNDS / batch; round += 1) {
    [a, b].forEach((run, which) => {
      const start = performance.now();
      for (let i = 0; i < batch; i += 1) run();
      times[which].push(((performance.now() - start) * 1000) / batch);
    });
  }
  const median = (xs: number[]) => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  return [median(times[0]), median(times[1])];
}

const schema = await buildGraphQLSchema();
const config = buildConfig({ dataDir: '.bench-limits-unused' });
const limited = [...specifiedRules, ...limitRules({ maxCost: config.limits.maxQueryCost })];
const rows = Object.entries(DOCUMENTS).map(([label, text]) => {
  const document = parse(text);
  const [plain, withLimits] = sideBySide(
    () => validate(schema, document, specifiedRules),
    () => validate(schema, document, limited),
  );
  return {
    document: label,
    'graphql rules (µs)': plain.toFixed(1),
    'with limits (µs)': withLimits.toFixed(1),
    'limits add (µs)': (withLimits - plain).toFixed(1),
    ratio: (withLimits / plain).toFixed(2),
  };
});
console.log(
  `validation per request, median of ${ROUNDS / 50} alternating batches of 50, max cost ${config.limits.maxQueryCost}`,
);
console.table(rows);
