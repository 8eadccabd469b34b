import fc from 'fast-check';
import { fixtureDir, loadSeedResources, mutatedResource } from '../../bench/fuzz/fhir-cases.js';
import { checkValidator } from '../../bench/fuzz/verdicts.js';
import { loadFhirDefinitions } from '../../src/records/fhir-validation.js';

// Fixed for reproducibility; a failure prints its seed and path (fast-check's report) to replay it.
const SEED = 20261201;
const RUNS = 2_000; // ~8 ms each: the validator runs twice per case (object and JSON text)
const limits = { maxResourceBytes: 1024 * 1024, maxJsonDepth: 64 };
const seeds = loadSeedResources(fixtureDir(import.meta.dirname));

beforeAll(() => loadFhirDefinitions());

describe('the FHIR validator under mutated valid resources (fast-check)', () => {
  it('starts from seeds that are all valid', () => {
    expect(seeds.length).toBeGreaterThanOrEqual(15);
    for (const seed of seeds) expect(checkValidator(seed, limits)).toBe('accepted');
  });

  it(`accepts and round-trips, or refuses with a stable reason: ${RUNS} cases, seed ${SEED}`, () => {
    const verdicts = new Map<string, number>();
    console.log(`fhir fuzz: ${RUNS} cases, seed ${SEED}`);
    fc.assert(
      fc.property(mutatedResource(seeds), ({ resource }) => {
        const verdict = checkValidator(resource, limits);
        verdicts.set(verdict, (verdicts.get(verdict) ?? 0) + 1);
      }),
      { seed: SEED, numRuns: RUNS },
    );
    console.log('fhir fuzz verdicts', Object.fromEntries(verdicts));
    // Both ways out are exercised, or the property proves little.
    expect(verdicts.get('accepted')).toBeGreaterThan(RUNS / 50);
    expect(verdicts.get('INVALID_RESOURCE')).toBeGreaterThan(RUNS / 4);
  });
});
