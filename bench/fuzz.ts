/**
 * The fuzzers of `npm test`, run longer: mutated FHIR resources through the validator, then a real
 * node over HTTP (addRecord / importBundle writes and generated GraphQL documents). Prints, per part,
 * the cases run, the failures (with the first few), the answers seen and the time taken.
 *
 *   npm run bench:fuzz     (embedded Postgres, or DATABASE_URL when set)
 *   FUZZ_SEED=20261201 FUZZ_FHIR_CASES=20000 FUZZ_WRITE_CASES=1000 FUZZ_DOCUMENT_CASES=2000
 */
import '../src/polyfills.js';
import fc from 'fast-check';
import { login, newIdentity, OmnichartClient, register } from '../examples/client.js';
import { loadFhirDefinitions } from '../src/records/fhir-validation.js';
import {
  documentCase,
  post,
  runWriteCase,
  sketchSchema,
  writeCase,
  type FuzzTarget,
  type Written,
} from './fuzz/api-cases.js';
import { fixtureDir, loadSeedResources, mutatedResource } from './fuzz/fhir-cases.js';
import { checkValidator, FuzzFailure } from './fuzz/verdicts.js';
import { startBenchNode } from './bench-node.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261201);
const FHIR_CASES = Number(process.env.FUZZ_FHIR_CASES ?? 20_000);
const WRITE_CASES = Number(process.env.FUZZ_WRITE_CASES ?? 1_000);
const DOCUMENT_CASES = Number(process.env.FUZZ_DOCUMENT_CASES ?? 2_000);
/** Cases generated at a time (fast-check's sample holds them all in memory). */
const CHUNK = 500;
const limits = { maxResourceBytes: 1024 * 1024, maxJsonDepth: 64 };

interface Tally {
  cases: number;
  failures: string[];
  outcomes: Map<string, number>;
}

/** Runs `total` cases of `arbitrary` in chunks, counting every failure rather than stopping at one. */
async function run<T>(
  total: number,
  arbitrary: fc.Arbitrary<T>,
  check: (c: T) => Promise<string[]> | string[],
): Promise<Tally & { ms: number }> {
  const tally: Tally = { cases: 0, failures: [], outcomes: new Map() };
  const started = performance.now();
  for (let chunk = 0; tally.cases < total; chunk++) {
    const cases = fc.sample(arbitrary, { seed: SEED + chunk, numRuns: Math.min(CHUNK, total - tally.cases) });
    for (const c of cases) {
      tally.cases += 1;
      try {
        for (const outcome of await check(c))
          tally.outcomes.set(outcome, (tally.outcomes.get(outcome) ?? 0) + 1);
      } catch (error) {
        tally.failures.push(
          error instanceof FuzzFailure ? error.message : String((error as Error).stack ?? error),
        );
      }
    }
  }
  return { ...tally, ms: performance.now() - started };
}

function report(part: string, tally: Tally & { ms: number }): void {
  console.log(
    `${part}: ${tally.cases} cases, ${tally.failures.length} failures, ${(tally.ms / 1000).toFixed(1)} s ` +
      `(${(tally.ms / tally.cases).toFixed(2)} ms/case)`,
  );
  console.log(`  outcomes: ${JSON.stringify(Object.fromEntries(tally.outcomes))}`);
  for (const failure of tally.failures.slice(0, 3)) console.log(`  FAILURE ${failure.slice(0, 2_000)}`);
}

async function main(): Promise<void> {
  console.log(`fuzz seed ${SEED} (set FUZZ_SEED to change it)`);
  loadFhirDefinitions();
  const seeds = loadSeedResources(fixtureDir(import.meta.dirname));

  const fhir = await run(FHIR_CASES, mutatedResource(seeds), ({ resource }) => [
    checkValidator(resource, limits),
  ]);
  report('validator', fhir);

  const bench = await startBenchNode('fuzz');
  let failed = fhir.failures.length;
  try {
    const identity = newIdentity();
    const client = new OmnichartClient(bench.node.url);
    await register(client, identity, 'PATIENT', 'fuzz patient');
    await login(client, identity);
    const target: FuzzTarget = {
      url: bench.node.url,
      token: client.token as string,
      patient: identity.wallet.address,
    };
    const footprint = async () => {
      const [counts] = await bench.node.database.dataSource.query(
        `SELECT (SELECT count(*) FROM record)::int AS records, (SELECT count(*) FROM record_version)::int AS versions`,
      );
      return counts as { records: number; versions: number };
    };

    const before = await footprint();
    const written = new Map<string, Written>();
    const writes = await run(WRITE_CASES, writeCase(seeds), async (c) => {
      const acknowledged = await runWriteCase(target, c);
      for (const w of acknowledged) written.set(`${w.id}@${w.version}`, w);
      return [acknowledged.length > 0 ? 'written' : 'refused'];
    });
    report('api writes', writes);
    const after = await footprint();
    const expected = {
      records: before.records + [...written.values()].filter((w) => w.version === 1).length,
      versions: before.versions + written.size,
    };
    const leftovers = after.records !== expected.records || after.versions !== expected.versions;
    console.log(
      `  stored: ${JSON.stringify(after)}, acknowledged: ${JSON.stringify(expected)}` +
        (leftovers ? '  FAILURE: stored rows differ from acknowledged writes' : ''),
    );

    const sketch = await sketchSchema(target);
    const documents = await run(DOCUMENT_CASES, documentCase(sketch, target.patient), async (c) => {
      const answer = await post(target, c.body, c.authorized);
      return answer.codes.length > 0 ? answer.codes : ['(data)'];
    });
    report('graphql documents', documents);

    const alive = await client.request<{ me: { address: string } }>(`{ me { address } }`);
    console.log(`node still serving: ${alive.me.address === target.patient}`);
    failed += writes.failures.length + documents.failures.length + (leftovers ? 1 : 0);
  } finally {
    await bench.close();
  }
  console.log(`total: ${FHIR_CASES + WRITE_CASES + DOCUMENT_CASES} cases, ${failed} failures`);
  process.exitCode = failed > 0 ? 1 : 0;
}

await main();
