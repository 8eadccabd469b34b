/**
 * Hostile FHIR input made from valid input: the official R4 examples and Synthea entries, each
 * mutated a few times (wrong JSON types, extra keys, deep nesting, odd Unicode and numbers, arrays
 * where objects belong). Shared by the property tests (test/records, test/api) and `npm run bench:fuzz`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/** Names that live on Object.prototype: a lookup with `obj[key]` or `key in obj` finds them. */
export const PROTOTYPE_NAMES = [
  'constructor',
  '__proto__',
  'toString',
  'hasOwnProperty',
  'valueOf',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'toLocaleString',
  '__defineGetter__',
  '__defineSetter__',
  '__lookupGetter__',
  '__lookupSetter__',
] as const;

const SYNTHEA_FILE = '8a4c9c04-1524-9f1c-d65b-9b17e4520fef.json';

/**
 * The valid resources mutations start from: every single-resource example in `dir` and the first
 * Synthea entry of each resource type (Patient, Encounter, Observation, Claim, ...).
 */
export function loadSeedResources(dir: string): JsonObject[] {
  const seeds: JsonObject[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith('.json')) continue;
    const json = JSON.parse(readFileSync(path.join(dir, name), 'utf8')) as JsonObject;
    if (name !== SYNTHEA_FILE) {
      seeds.push(json);
      continue;
    }
    const seen = new Set<string>();
    for (const entry of json.entry as JsonObject[]) {
      const resource = entry.resource as JsonObject;
      if (seen.has(resource.resourceType as string)) continue;
      seen.add(resource.resourceType as string);
      seeds.push(resource);
    }
  }
  return seeds;
}

/** The repository's test/fixtures/fhir, found from wherever this file runs (ts-jest or dist/). */
export function fixtureDir(from: string): string {
  for (let dir = from; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'test', 'fixtures', 'fhir');
    try {
      if (readdirSync(candidate).length > 0) return candidate;
    } catch {
      // not here; look one level up
    }
  }
  throw new Error(`no test/fixtures/fhir above ${from}`);
}

// Lone surrogates, bidi overrides, NUL and other controls, non-characters, combining marks, emoji.
const ODD_PIECES = [
  '\uD800',
  '\uDBFF',
  '\uDC00',
  '\uDFFF',
  'a\uD83D',
  '\uDE00b',
  '\u202E',
  '\u202D',
  '\u200F',
  '\u200E',
  '\u2066',
  '\u0000',
  '\u0001',
  '\u001F',
  '\u007F',
  '\uFEFF',
  '\uFFFE',
  '\uFFFF',
  '\u0301\u0301\u0301',
  '\u{1F469}\u200D\u{1F52C}',
  '\u{10FFFF}',
  '\\',
  '"',
  '\n\r\t',
  "'; DROP TABLE record; --",
  '${jndi:x}',
  '%00',
  '<div xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></div>',
];

export const oddString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.array(fc.constantFrom(...ODD_PIECES), { minLength: 1, maxLength: 6 }).map((parts) => parts.join('')),
  fc
    .tuple(fc.constantFrom('x', '€', '\u{1F600}', '\uD800'), fc.integer({ min: 1_000, max: 100_000 }))
    .map(([piece, n]) => piece.repeat(n)),
  fc.constantFrom('', ' ', '2020-02-30', '9999-99-99T99:99:99Z', 'Patient/', 'urn:uuid:', '#', 'http://'),
);

// JSON has no NaN or Infinity; these are what it does carry that code may not expect.
export const oddNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(
    1e308,
    -1e308,
    -0,
    1e-400,
    5e-324,
    2 ** 53 + 2,
    -(2 ** 63),
    2 ** 64,
    Number('123456789012345678901234567890'), // what JSON.parse makes of a 30-digit integer
    0.1 + 0.2,
    -1,
    2 ** 31,
  ),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
);

export const oddKey: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...PROTOTYPE_NAMES),
  fc.constantFrom(...PROTOTYPE_NAMES).map((name) => `_${name}`),
  fc.constantFrom('resourceType', 'id', 'extension', 'value[x]', 'valueFoo', '_', '', 'foo', 'meta', 'text'),
  fc.string({ unit: 'binary', maxLength: 12 }),
);

const leafValue: fc.Arbitrary<Json> = fc.oneof(oddString, oddNumber, fc.boolean(), fc.constant(null));

/** Any JSON value, small. */
export const anyJson: fc.Arbitrary<Json> = fc.letrec<{ value: Json }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leafValue,
    fc.array(tie('value'), { maxLength: 3 }),
    fc.array(fc.tuple(oddKey, tie('value')), { maxLength: 3 }).map(objectOf),
  ),
})).value;

/** JSON nested `depth` levels deep, as FHIR extensions do legitimately and attackers do not. */
const deepJson: fc.Arbitrary<Json> = fc
  .tuple(fc.integer({ min: 5, max: 80 }), fc.constantFrom('extension', 'array', 'object'))
  .map(([depth, shape]) => {
    let value: Json = { url: 'http://example.org/deep', valueString: 'bottom' };
    for (let i = 0; i < depth; i++) {
      value = shape === 'array' ? [value] : shape === 'object' ? { nested: value } : { extension: [value] };
    }
    return value;
  });

type Mutation =
  | { kind: 'replace'; at: number; value: Json }
  | { kind: 'addKey'; at: number; key: string; value: Json }
  | { kind: 'deleteKey'; at: number }
  | { kind: 'wrapInArray'; at: number }
  | { kind: 'unwrapArray'; at: number }
  | { kind: 'oddLeaf'; at: number; text: string; number: number }
  | { kind: 'nest'; at: number; value: Json }
  | { kind: 'resourceType'; value: string };

const at = fc.nat();
// Weighted so that most cases keep a known resourceType and a sane depth, and reach the deep checks.
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('replace' as const), at, value: anyJson }) },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('addKey' as const), at, key: oddKey, value: anyJson }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('deleteKey' as const), at }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('wrapInArray' as const), at }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('unwrapArray' as const), at }) },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('oddLeaf' as const), at, text: oddString, number: oddNumber }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('nest' as const), at, value: deepJson }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('resourceType' as const),
      value: fc.oneof(fc.constantFrom('Patient', 'Bundle', 'Resource', ...PROTOTYPE_NAMES), oddString),
    }),
  },
);

/** A valid seed with one to three mutations applied; `seedIndex` says which seed it came from. */
export function mutatedResource(
  seeds: JsonObject[],
): fc.Arbitrary<{ seedIndex: number; resource: JsonObject }> {
  return fc
    .tuple(fc.nat({ max: seeds.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 3 }))
    .map(([seedIndex, mutations]) => {
      // Not structuredClone: under Jest that builds objects of another realm, which no client can send.
      const resource = JSON.parse(JSON.stringify(seeds[seedIndex])) as JsonObject;
      for (const m of mutations) apply(resource, m);
      return { seedIndex, resource };
    });
}

/** A key set as JSON.parse would: an own property even for `__proto__`. */
function setOwn(target: JsonObject, key: string, value: Json): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function objectOf(entries: [string, Json][]): JsonObject {
  const object: JsonObject = {};
  for (const [key, value] of entries) setOwn(object, key, value);
  return object;
}

interface Slot {
  parent: JsonObject | Json[];
  key: string | number;
}

/** Every place in `root` that holds a value, in a fixed order. */
function slotsOf(root: JsonObject): Slot[] {
  const slots: Slot[] = [];
  const stack: Json[] = [root];
  while (stack.length > 0) {
    const value = stack.pop() as Json;
    if (Array.isArray(value)) {
      value.forEach((item, i) => {
        slots.push({ parent: value, key: i });
        stack.push(item);
      });
    } else if (value !== null && typeof value === 'object') {
      for (const key of Object.keys(value)) {
        slots.push({ parent: value, key });
        stack.push(value[key]);
      }
    }
  }
  return slots;
}

function read(slot: Slot): Json {
  return (slot.parent as Record<string | number, Json>)[slot.key];
}

function write(slot: Slot, value: Json): void {
  if (Array.isArray(slot.parent)) slot.parent[slot.key as number] = value;
  else setOwn(slot.parent, slot.key as string, value);
}

function apply(resource: JsonObject, m: Mutation): void {
  if (m.kind === 'resourceType') {
    resource.resourceType = m.value;
    return;
  }
  const slots = slotsOf(resource);
  if (slots.length === 0) return;
  const slot = slots[m.at % slots.length];
  const current = read(slot);
  switch (m.kind) {
    case 'replace':
    case 'nest':
      write(slot, m.value);
      return;
    case 'oddLeaf':
      // Keeps a number a number, so the odd value gets past the type checks to the code behind them.
      write(slot, typeof current === 'number' ? m.number : m.text);
      return;
    case 'addKey': {
      const objects = slots.map(read).filter(isObject);
      const target = objects.length > 0 ? objects[m.at % objects.length] : resource;
      setOwn(target, m.key, m.value);
      return;
    }
    case 'deleteKey':
      if (Array.isArray(slot.parent)) slot.parent.splice(slot.key as number, 1);
      else delete slot.parent[slot.key as string];
      return;
    case 'wrapInArray':
      write(slot, [current]);
      return;
    case 'unwrapArray':
      if (Array.isArray(current)) write(slot, current.length > 0 ? current[0] : {});
      else write(slot, {});
      return;
  }
}

function isObject(value: Json): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
