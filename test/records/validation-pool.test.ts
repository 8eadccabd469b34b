import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROTOTYPE_NAMES } from '../../bench/fuzz/fhir-cases.js';
import { planBundle, type PlannedEntry } from '../../src/records/bundle.js';
import { ValidationPool } from '../../src/records/validation-pool.js';

/*
 * The pool's workers are the built `dist/src/records/validation-worker.js` (ts-jest cannot start a
 * worker from TypeScript sources), so these tests run the built pool in a child Node process and
 * compare what it answers with the known verdicts and with planBundle on the main thread here.
 */
const repoRoot = path.resolve(import.meta.dirname, '..', '..');
const builtBundle = path.join(repoRoot, 'dist', 'src', 'records', 'bundle.js');
const builtPool = path.join(repoRoot, 'dist', 'src', 'records', 'validation-pool.js');
const limits = { maxResourceBytes: 4096, maxJsonDepth: 16 };

/** What a child process reports: the pool's own verdicts (proof the workers answered) and the plan. */
interface ChildReport {
  direct: { index: number; accepted: boolean; code: string | null }[] | null;
  planned: { index: number; accepted: boolean; code: string | null; sourceKey: string | null }[];
  plannedTwice: number;
}

/** Runs the built pool on `bundleJson` (JSON text, as a client's body is parsed) in a child process. */
function runBuiltPool(bundleJson: string, workerUrl?: string): ChildReport {
  const script = `
    import { planBundle } from ${JSON.stringify(builtBundle)};
    import { ValidationPool } from ${JSON.stringify(builtPool)};
    const bundle = JSON.parse(await new Promise((resolve) => {
      let text = ''; process.stdin.on('data', (d) => (text += d)).on('end', () => resolve(text));
    }));
    const limits = ${JSON.stringify(limits)};
    const workerUrl = ${JSON.stringify(workerUrl ?? null)};
    const pool = new ValidationPool({ threads: 2, minEntries: 1, ...(workerUrl ? { workerUrl: new URL(workerUrl) } : {}) });
    const brief = (e) => ({ index: e.index, accepted: e.accepted ?? e.resource !== undefined, code: e.rejection?.code ?? null });
    let direct = null;
    const transaction = bundle.type === 'transaction';
    for (let tries = 0; tries < 200 && !workerUrl; tries += 1) {
      const verdicts = await pool.verdicts(bundle.entry, transaction, { limits });
      if (verdicts) { direct = verdicts.map(brief); break; }
      await new Promise((r) => setTimeout(r, 50));
    }
    if (workerUrl) await pool.verdicts(bundle.entry, transaction, { limits }).catch(() => undefined);
    if (workerUrl) await new Promise((r) => setTimeout(r, 500));
    const plan = await planBundle(bundle, { limits, maxEntries: 5000, pool });
    const again = await planBundle(bundle, { limits, maxEntries: 5000, pool });
    await pool.close();
    process.stdout.write(JSON.stringify({
      direct,
      planned: plan.entries.map((e) => ({ ...brief(e), sourceKey: e.sourceKey })),
      plannedTwice: again.entries.filter((e) => e.resource).length,
    }));
  `;
  // A file, not `--input-type=module -e`: workers inherit the flags, and that one stops them.
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'omnichart-pool-')), 'run-pool.mjs');
  writeFileSync(file, script);
  try {
    const out = execFileSync(process.execPath, [file], {
      input: bundleJson,
      maxBuffer: 64 << 20,
      stdio: 'pipe',
    });
    return JSON.parse(out.toString()) as ChildReport;
  } catch (error) {
    const failed = error as { status?: number; signal?: string; stderr?: Buffer };
    throw new Error(
      `the built pool failed (${failed.status ?? failed.signal}): ${String(failed.stderr ?? error)}`,
    );
  }
}

const brief = (e: PlannedEntry) => ({
  index: e.index,
  accepted: e.resource !== undefined,
  code: e.rejection?.code ?? null,
  sourceKey: e.sourceKey,
});

const observation = (i: number) => ({
  resourceType: 'Observation',
  id: `obs-${i}`,
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
  subject: { reference: 'urn:uuid:00000000-0000-4000-8000-000000000001' },
  valueQuantity: { value: 60 + (i % 40), unit: '/min' },
});

/**
 * A transaction Bundle with valid entries and every hostile entry planEntry knows, written as JSON
 * text so that `__proto__` is an own key as in a client's body. Known verdict per entry alongside.
 */
function hostileBundle(): { json: string; expected: (string | null)[] } {
  const entries: string[] = [];
  const expected: (string | null)[] = [];
  const add = (entryJson: string, code: string | null) => {
    entries.push(entryJson);
    expected.push(code);
  };
  const post = (resource: string, fullUrl?: string) =>
    `{${fullUrl ? `"fullUrl":${JSON.stringify(fullUrl)},` : ''}"resource":${resource},"request":{"method":"POST","url":"Observation"}}`;
  add(
    `{"fullUrl":"urn:uuid:00000000-0000-4000-8000-000000000001","resource":{"resourceType":"Patient","id":"p1"},"request":{"method":"POST","url":"Patient"}}`,
    null,
  );
  for (let i = 0; i < 150; i += 1) add(post(JSON.stringify(observation(i))), null);
  for (const name of PROTOTYPE_NAMES) {
    const top = JSON.stringify(observation(1000)).replace('{', `{${JSON.stringify(name)}:{"a":1},`);
    add(post(top), 'INVALID_RESOURCE');
    const nested = JSON.stringify(observation(1001)).replace(
      '"code":{',
      `"code":{${JSON.stringify(name)}:1,`,
    );
    add(post(nested), 'INVALID_RESOURCE');
  }
  add(post(JSON.stringify({ ...observation(2000), foo: 1 })), 'INVALID_RESOURCE');
  add(post(JSON.stringify({ ...observation(2001), status: 42 })), 'INVALID_RESOURCE');
  add(post(JSON.stringify({ resourceType: 'NoSuchType' })), 'UNKNOWN_RESOURCE_TYPE');
  let deep: unknown = 'x';
  for (let i = 0; i < 20; i += 1) deep = { extension: [{ url: 'http://e.org', valueString: 'y', x: deep }] };
  add(post(JSON.stringify({ ...observation(2002), code: deep })), 'TOO_DEEP');
  add(post(JSON.stringify({ ...observation(2003), note: [{ text: 'z'.repeat(5000) }] })), 'TOO_LARGE');
  add('42', 'NOT_AN_OBJECT');
  add('{"request":{"method":"POST","url":"Observation"}}', 'NO_RESOURCE');
  add(
    post(
      JSON.stringify({
        ...observation(2004),
        subject: { reference: 'urn:uuid:0a0a0a0a-0000-4000-8000-000000000009' },
      }),
    ),
    'DANGLING_REFERENCE',
  );
  add(
    `{"resource":${JSON.stringify(observation(2005))},"request":{"method":"PUT","url":"Observation/other"}}`,
    'URL_MISMATCH',
  );
  add(
    `{"resource":${JSON.stringify(observation(2006))},"request":{"method":"DELETE","url":"Observation/x"}}`,
    'UNSUPPORTED_METHOD',
  );
  // A resource sent as a string of JSON is parsed like addRecord's: valid here.
  add(post(JSON.stringify(JSON.stringify(observation(2007)))), null);
  add(post(JSON.stringify(observation(3))), 'DUPLICATE_ENTRY');
  return { json: `{"resourceType":"Bundle","type":"transaction","entry":[${entries.join(',')}]}`, expected };
}

describe('bundle validation on worker threads (the built pool)', () => {
  beforeAll(() => {
    if (!existsSync(builtPool))
      throw new Error(`${builtPool} is missing: run \`npm run build\` (npm test does)`);
  });

  it('answers the known verdict of every valid and hostile entry, as the main thread does', async () => {
    const { json, expected } = hostileBundle();
    const report = runBuiltPool(json);

    // The workers answered (not the main-thread fallback), entry by entry, with the known codes.
    expect(report.direct).not.toBeNull();
    expect(report.direct!.map((v) => v.code)).toEqual(
      expected.map((code) => (code === 'DANGLING_REFERENCE' || code === 'DUPLICATE_ENTRY' ? null : code)),
    );
    expect(report.planned.map((v) => v.code)).toEqual(expected);
    expect(report.plannedTwice).toBe(expected.filter((c) => c === null).length);

    const here = await planBundle(JSON.parse(json), { limits, maxEntries: 5000 });
    expect(report.planned).toEqual(here.entries.map(brief));
  });

  it('judges the whole Bundle on the main thread when a worker dies', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'omnichart-dying-worker-'));
    const dying = path.join(dir, 'dying-worker.mjs');
    writeFileSync(
      dying,
      `import { parentPort } from 'node:worker_threads';
       parentPort.postMessage({ kind: 'ready' });
       parentPort.on('message', () => process.exit(3));`,
    );
    const { json, expected } = hostileBundle();
    const report = runBuiltPool(json, `file://${dying}`);
    expect(report.planned.map((v) => v.code)).toEqual(expected);
    expect(report.plannedTwice).toBe(expected.filter((c) => c === null).length);
  });
});

describe('the pool from sources (ts-jest)', () => {
  it('is unavailable without a built worker beside it, so planBundle validates on the main thread', async () => {
    const pool = new ValidationPool({ threads: 2, minEntries: 1 });
    expect(pool.available).toBe(false);
    const bundle = JSON.parse(hostileBundle().json);
    expect(await pool.verdicts(bundle.entry, true, { limits })).toBeUndefined();
    const plan = await planBundle(bundle, { limits, maxEntries: 5000, pool });
    expect(plan.entries.map((e) => e.rejection?.code ?? null)).toEqual(hostileBundle().expected);
    await pool.close();
  });
});
