import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  IMPORT_BUNDLE,
  READ_RECORD,
  login,
  newIdentity,
  register,
  signTypedData,
  type Identity,
  type OmnichartClient,
} from '../../examples/client.js';
import { trainModel } from '../../src/ml/training.js';
import { grant, revoke } from '../helpers/consent.js';
import { attestUser } from '../helpers/identity.js';
import { stopTestDatabaseServer } from '../helpers/test-database.js';
import { signIn, startTestNode, type SignedInUser, type TestNode } from '../helpers/test-node.js';

const fixture = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '../fixtures/synthea/research-cohort-30.json.bz2',
);

interface FhirEntry {
  fullUrl: string;
  resource: {
    resourceType: string;
    gender?: string;
    birthDate?: string;
    onsetDateTime?: string;
    code?: { coding: { system: string; code: string }[] };
  };
}
interface Bundle {
  resourceType: 'Bundle';
  type: string;
  entry: FhirEntry[];
}

const SNOMED = 'http://snomed.info/sct';
const COVID = `${SNOMED}|840539006`;
const FEVER = `${SNOMED}|386661006`;
const SINUSITIS = `${SNOMED}|444814009`;
const OTITIS = `${SNOMED}|65363002`;
const BRONCHITIS = `${SNOMED}|10509002`;
const MARKER = 'urn:x-patient-chosen|IDENTIFY-ME-7f3a';
const QUOTED = `${SNOMED}|840539006'OR'1'='1`;
const AS_OF = '2021-07-01T00:00:00.000Z';
const K = 10;

const COHORT = `query ($input: CohortQueryInput!) {
  cohortStatistics(input: $input) {
    organization asOf minCellSize epsilon cohortSize suppressedCells
    cells { condition ageBand sex month patients count rate suppressed }
  }
}`;
const TRAIN = `mutation ($input: CohortTrainingInput!) {
  trainCohortModel(input: $input) {
    id dataset datasetSha256 algorithm evaluation { folds repeats }
    features { name chartSource }
    cohort { organization condition size positives rowsLeftNode requestedBy }
  }
}`;
const TRAIL = `query ($p: String!) {
  auditTrail(patient: $p, first: 200) { edges { node { actor action outcome purpose reason } } }
}`;

interface Cell {
  condition: string | null;
  ageBand: string | null;
  sex: string | null;
  month: string | null;
  patients: number | null;
  count: number | null;
  rate: number | null;
  suppressed: boolean;
}
interface Answer {
  cohortStatistics: {
    organization: string;
    cohortSize: number | null;
    minCellSize: number;
    epsilon: number | null;
    suppressedCells: number;
    cells: Cell[];
  };
}

// ---- the expected answers, computed here from the bundles' JSON (not by the node's code) ----

interface Facts {
  sex: string;
  birthDate: string;
  onsets: Map<string, string>; // code -> earliest onsetDateTime (ISO)
}

function factsOf(bundle: Bundle): Facts {
  const patient = bundle.entry.find((e) => e.resource.resourceType === 'Patient')!.resource;
  const onsets = new Map<string, string>();
  for (const { resource } of bundle.entry) {
    if (resource.resourceType !== 'Condition' || !resource.onsetDateTime) continue;
    for (const coding of resource.code!.coding) {
      const code = `${coding.system}|${coding.code}`;
      const known = onsets.get(code);
      if (!known || Date.parse(resource.onsetDateTime) < Date.parse(known))
        onsets.set(code, resource.onsetDateTime);
    }
  }
  return { sex: patient.gender!, birthDate: patient.birthDate!, onsets };
}

function ageOn(birthDate: string, on: string): number {
  const [y, m, d] = birthDate.split('-').map(Number);
  const [ty, tm, td] = on.slice(0, 10).split('-').map(Number);
  return ty - y - (tm < m || (tm === m && td < d) ? 1 : 0);
}

function hasBy(facts: Facts, code: string, asOf: string): boolean {
  const onset = facts.onsets.get(code);
  return onset !== undefined && Date.parse(onset) <= Date.parse(asOf);
}

function expectedCell(
  cohort: Facts[],
  select: (f: Facts) => boolean,
  counted: (f: Facts) => boolean,
  denominatorIsCohort = false,
) {
  const stratum = cohort.filter(select);
  const count = stratum.filter(counted).length;
  if (count < K || stratum.length < K) return { patients: null, count: null, rate: null, suppressed: true };
  const denominator = denominatorIsCohort ? cohort.length : stratum.length;
  return { patients: stratum.length, count, rate: count / denominator, suppressed: false };
}

function readCohort(): Bundle[] {
  return JSON.parse(execFileSync('bzcat', [fixture], { maxBuffer: 64 << 20 }).toString()) as Bundle[];
}

async function importBundle(user: SignedInUser, bundle: unknown) {
  const { importBundle: result } = await user.client.request<{
    importBundle: {
      rejected: number;
      entries: { recordId: string | null; outcome: string; code: string; reason: string }[];
    };
  }>(IMPORT_BUNDLE, { patient: user.address, bundle });
  if (result.rejected !== 0)
    throw new Error(
      `import rejected ${result.rejected} entries: ${JSON.stringify(result.entries.filter((e) => (e as { outcome?: string }).outcome === 'REJECTED').slice(0, 2))}`,
    );
  return result.entries.map((e) => e.recordId!);
}

async function grantOk(user: SignedInUser, grantee: string, scopes: string[]): Promise<string> {
  const response = await grant(user.client, {
    patient: user.identity,
    grantee,
    scopes,
    expiresAt: new Date(Date.now() + 24 * 3600_000),
  });
  if (response.errors) throw new Error(JSON.stringify(response.errors));
  return response.data!.grantAccess.id;
}

async function inBatches<T, R>(
  items: T[],
  size: number,
  work: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) {
    out.push(...(await Promise.all(items.slice(i, i + size).map((item, j) => work(item, i + j)))));
  }
  return out;
}

describe('cohortStatistics: k-anonymous counts over patients who granted research', () => {
  let test: TestNode;
  let bundles: Bundle[];
  let cohortFacts: Facts[];
  let orgA: Identity & { client: OmnichartClient };
  let orgB: Identity;
  let analystA: SignedInUser;
  let analystB: SignedInUser;
  const cohort: SignedInUser[] = [];
  const cohortRecords: string[][] = [];
  let noScope: SignedInUser;
  let orgBPatient: SignedInUser;
  let revoker: SignedInUser;
  let revokerGrant: string;

  async function organization(name: string): Promise<Identity & { client: OmnichartClient }> {
    const identity = newIdentity();
    const client = test.client();
    await register(client, identity, 'ORGANIZATION', name);
    await login(client, identity);
    await test.node.ledger.admitOrganization(identity.wallet.address, true);
    return { ...identity, client };
  }

  async function ask(user: SignedInUser, input: Record<string, unknown>) {
    return user.client.send<Answer>(COHORT, { input: { asOf: AS_OF, ...input } });
  }

  async function researchEntries(user: SignedInUser) {
    const { auditTrail } = await user.client.request<{
      auditTrail: { edges: { node: { actor: string; action: string; purpose: string | null } }[] };
    }>(TRAIL, { p: user.address });
    return auditTrail.edges.map((e) => e.node).filter((n) => n.action === 'research');
  }

  beforeAll(async () => {
    bundles = readCohort();
    expect(bundles).toHaveLength(30);
    cohortFacts = bundles.map(factsOf);
    // The node's own trainer runs the built worker thread; under ts-jest the same training runs in process.
    test = await startTestNode(
      {},
      { trainer: async (job, { onFold }) => (await trainModel({ ...job, hooks: { onFold } })).artifact },
    );
    orgA = await organization('Research org A');
    orgB = await organization('Research org B');
    analystA = await signIn(test, 'ANALYST');
    await attestUser(test, analystA, 'ANALYST', { organization: orgA });
    analystB = await signIn(test, 'ANALYST');
    await attestUser(test, analystB, 'ANALYST', { organization: orgB });
    const members = await inBatches(bundles, 5, async (bundle) => {
      const user = await signIn(test);
      const records = await importBundle(user, bundle);
      await grantOk(user, orgA.wallet.address, ['research']);
      return { user, records };
    });
    for (const { user, records } of members) {
      cohort.push(user);
      cohortRecords.push(records);
    }
    // Patients that must never be counted for A: no research scope (but predict and reads), research for B.
    noScope = await signIn(test);
    await importBundle(noScope, bundles[0]);
    await grantOk(noScope, orgA.wallet.address, ['patient/*.rs', 'predict']);
    orgBPatient = await signIn(test);
    await importBundle(orgBPatient, bundles[1]);
    await grantOk(orgBPatient, orgB.wallet.address, ['research']);
    revoker = await signIn(test);
    await importBundle(revoker, bundles[2]);
    revokerGrant = await grantOk(revoker, orgA.wallet.address, ['research']);
    // A code string a patient chose, and one built to break the SQL, in a counted chart.
    await importBundle(cohort[0], {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [MARKER, QUOTED].map((text, i) => {
        const [system, code] = [text.slice(0, text.indexOf('|')), text.slice(text.indexOf('|') + 1)];
        return {
          fullUrl: `urn:uuid:00000000-0000-4000-8000-00000000000${i}`,
          resource: {
            resourceType: 'Condition',
            subject: { reference: 'Patient/marker' },
            code: { coding: [{ system, code }] },
            onsetDateTime: '2021-01-01T00:00:00Z',
          },
        };
      }),
    });
  }, 900_000);

  afterAll(async () => {
    await test?.close();
    await stopTestDatabaseServer();
  });

  it('a revoked grant is not counted on the next request, and that patient gets no further audit entry', async () => {
    const before = await ask(analystA, {});
    expect(before.errors).toBeUndefined();
    expect(before.data!.cohortStatistics.cohortSize).toBe(31);
    expect(await researchEntries(revoker)).toHaveLength(1);
    const revoked = await revoke(revoker.client, revoker.identity, revokerGrant);
    expect(revoked.errors).toBeUndefined();
    const after = await ask(analystA, {});
    expect(after.data!.cohortStatistics.cohortSize).toBe(30);
    expect(await researchEntries(revoker)).toHaveLength(1);
  });

  it('answers for 30 imported Synthea charts equal counts made from the bundles, by condition and sex', async () => {
    const conditions = [COVID, FEVER, SINUSITIS, OTITIS];
    const response = await ask(analystA, { conditions, groupBy: ['SEX'] });
    expect(response.errors).toBeUndefined();
    const answer = response.data!.cohortStatistics;
    expect(answer.organization.toLowerCase()).toBe(orgA.wallet.address.toLowerCase());
    expect(answer.minCellSize).toBe(10);
    expect(answer.epsilon).toBeNull();
    expect(answer.cohortSize).toBe(30);
    const expected = conditions.flatMap((condition) =>
      ['female', 'male', 'other', 'unknown'].map((sex) => ({
        condition,
        ageBand: null,
        sex,
        month: null,
        ...expectedCell(
          cohortFacts,
          (f) => f.sex === sex,
          (f) => hasBy(f, condition, AS_OF),
        ),
      })),
    );
    expect(answer.cells).toEqual(expected);
    // The fixture has cells on both sides of k, so the comparison tests suppression too.
    expect(expected.some((c) => !c.suppressed)).toBe(true);
    expect(expected.some((c) => c.suppressed)).toBe(true);
    expect(answer.suppressedCells).toBe(expected.filter((c) => c.suppressed).length);
  });

  it('by age band (30 years) and without grouping, as counted from the bundles', async () => {
    const bands = ['0-29', '30-59', '60-89', '90+', 'unknown'];
    const band = (f: Facts) => {
      const age = ageOn(f.birthDate, AS_OF);
      return age >= 90 ? '90+' : bands[Math.floor(age / 30)];
    };
    const byBand = await ask(analystA, { conditions: [COVID], groupBy: ['AGE_BAND'], ageBandYears: 30 });
    expect(byBand.errors).toBeUndefined();
    expect(byBand.data!.cohortStatistics.cells).toEqual(
      bands.map((ageBand) => ({
        condition: COVID,
        ageBand,
        sex: null,
        month: null,
        ...expectedCell(
          cohortFacts,
          (f) => band(f) === ageBand,
          (f) => hasBy(f, COVID, AS_OF),
        ),
      })),
    );
    const patientsOnly = await ask(analystA, { groupBy: ['AGE_BAND'], ageBandYears: 30 });
    expect(patientsOnly.data!.cohortStatistics.cells).toEqual(
      bands.map((ageBand) => ({
        condition: null,
        ageBand,
        sex: null,
        month: null,
        ...expectedCell(
          cohortFacts,
          (f) => band(f) === ageBand,
          () => true,
          true,
        ),
      })),
    );
  });

  it('over time: first onsets by month, as counted from the bundles (outbreak detection)', async () => {
    const response = await ask(analystA, {
      conditions: [COVID],
      groupBy: ['MONTH'],
      from: '2020-01-01T00:00:00Z',
      to: '2020-12-31T00:00:00Z',
    });
    expect(response.errors).toBeUndefined();
    const months = Array.from({ length: 12 }, (_, i) => `2020-${String(i + 1).padStart(2, '0')}`);
    expect(response.data!.cohortStatistics.cells).toEqual(
      months.map((month) => ({
        condition: COVID,
        ageBand: null,
        sex: null,
        month,
        ...expectedCell(
          cohortFacts,
          () => true,
          (f) => hasBy(f, COVID, AS_OF) && new Date(f.onsets.get(COVID)!).toISOString().slice(0, 7) === month,
        ),
      })),
    );
  });

  it('a cell of 9 patients is suppressed: no figure of it is released', async () => {
    const withOtitis = cohortFacts.filter((f) => hasBy(f, OTITIS, AS_OF)).length;
    expect(withOtitis).toBe(9); // counted from the JSON
    const response = await ask(analystA, { conditions: [OTITIS] });
    expect(response.data!.cohortStatistics.cells).toEqual([
      {
        condition: OTITIS,
        ageBand: null,
        sex: null,
        month: null,
        patients: null,
        count: null,
        rate: null,
        suppressed: true,
      },
    ]);
  });

  it('patients without the research scope, or who granted it to another organization, are never counted', async () => {
    const response = await ask(analystA, { conditions: [COVID] });
    const cell = response.data!.cohortStatistics.cells[0];
    expect(cell.patients).toBe(30);
    expect(cell.count).toBe(cohortFacts.filter((f) => hasBy(f, COVID, AS_OF)).length);
    expect(await researchEntries(noScope)).toHaveLength(0);
    expect(await researchEntries(orgBPatient)).toHaveLength(0);
    // B's analyst counts only B's one patient: under k, so nothing is released.
    const forB = await ask(analystB, { conditions: [COVID] });
    expect(forB.errors).toBeUndefined();
    expect(forB.data!.cohortStatistics.cohortSize).toBeNull();
    expect(forB.data!.cohortStatistics.cells[0].suppressed).toBe(true);
    expect(await researchEntries(orgBPatient)).toHaveLength(1);
  });

  it('an analyst of another organization naming A is refused with a stable code', async () => {
    const response = await ask(analystB, { organization: orgA.wallet.address, conditions: [COVID] });
    expect(response.data).toBeNull();
    expect(response.errors![0].extensions).toMatchObject({
      code: 'FORBIDDEN',
      reason: 'NOT_ORGANIZATION_ANALYST',
    });
  });

  it('a wallet that only claims ANALYST, a patient, the organization itself, and a revoked attestation are refused', async () => {
    const selfDeclared = await signIn(test, 'ANALYST');
    const orgAsUser: SignedInUser = { identity: orgA, client: orgA.client, address: orgA.wallet.address };
    for (const user of [selfDeclared, cohort[0], orgAsUser]) {
      const response = await ask(user, { conditions: [COVID] });
      expect(response.errors![0].extensions).toMatchObject({
        code: 'FORBIDDEN',
        reason: 'ATTESTATION_MISSING',
      });
    }
    const leaving = await signIn(test, 'ANALYST');
    await attestUser(test, leaving, 'ANALYST', { organization: orgA });
    expect((await ask(leaving, {})).data!.cohortStatistics.cohortSize).toBe(30);
    const typed = await leaving.client.request<{ revokeAttestationTypedData: unknown }>(
      `query ($s: String!) { revokeAttestationTypedData(subject: $s) }`,
      { s: leaving.address },
    );
    const signature = await signTypedData(orgA, typed.revokeAttestationTypedData);
    await leaving.client.request(
      `mutation ($s: String!, $sig: String) { revokeAttestation(subject: $s, signature: $sig) { status } }`,
      { s: leaving.address, sig: signature },
    );
    const after = await ask(leaving, {});
    expect(after.errors![0].extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'ATTESTATION_MISSING' });
  });

  it('a research grant opens no record, even to the organization it names; it is refused to a non-organization', async () => {
    const read = await orgA.client.send(READ_RECORD, { id: cohortRecords[0][0] });
    expect(read.errors![0].extensions?.code).toBe('FORBIDDEN');
    const practitioner = await signIn(test, 'PRACTITIONER');
    await expect(grantOk(cohort[1], practitioner.address, ['research'])).rejects.toThrow(
      /RESEARCH_GRANTEE_NOT_ORGANIZATION|organization/,
    );
  });

  it('a patient-chosen code string never comes back, and a quoted code matches only itself', async () => {
    const response = await ask(analystA, { conditions: [MARKER, QUOTED, COVID], groupBy: ['SEX'] });
    expect(response.errors).toBeUndefined();
    const text = JSON.stringify(response.data);
    // Only the analyst's own codes label cells; the marker patient is one, so the marker's cells are suppressed.
    expect(
      response.data!.cohortStatistics.cells.filter((c) => c.condition === MARKER).every((c) => c.suppressed),
    ).toBe(true);
    expect(
      response.data!.cohortStatistics.cells.filter((c) => c.condition === QUOTED).every((c) => c.suppressed),
    ).toBe(true);
    const unlisted = await ask(analystA, { conditions: [COVID], groupBy: ['SEX'] });
    expect(JSON.stringify(unlisted.data)).not.toContain('IDENTIFY-ME');
    expect(text.match(/IDENTIFY-ME/g)?.length).toBe(4); // the four cells of the code the analyst named
    const bad = await ask(analystA, { conditions: ['no pipe here'] });
    expect(bad.errors![0].extensions?.code).toBe('BAD_USER_INPUT');
    const tooMany = await ask(analystA, {
      conditions: Array.from({ length: 21 }, (_, i) => `${SNOMED}|${i}`),
    });
    expect(tooMany.errors![0].extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('each query writes exactly one research audit entry in the log of every counted patient', async () => {
    const before = await Promise.all(cohort.map((user) => researchEntries(user)));
    await ask(analystA, { conditions: [COVID] });
    const after = await Promise.all(cohort.map((user) => researchEntries(user)));
    for (let i = 0; i < cohort.length; i++) {
      expect(after[i].length).toBe(before[i].length + 1);
      expect(after[i][0].actor.toLowerCase()).toBe(analystA.address.toLowerCase());
      expect(after[i][0].purpose).toBe('cohortStatistics');
    }
    expect(await researchEntries(noScope)).toHaveLength(0);
  });

  it('trains a model on the consenting charts: the card records the cohort, no row leaves, each chart is audited', async () => {
    const before = await Promise.all(cohort.map((user) => researchEntries(user)));
    const response = await analystA.client.send<{
      trainCohortModel: {
        id: string;
        dataset: string;
        features: { name: string; chartSource: string | null }[];
        cohort: {
          organization: string;
          condition: string;
          size: number;
          positives: number;
          rowsLeftNode: boolean;
        };
      };
    }>(TRAIN, { input: { condition: BRONCHITIS, algorithm: 'logreg' } });
    expect(response.errors).toBeUndefined();
    const model = response.data!.trainCohortModel;
    expect(model.dataset).toMatch(/^cohort-[0-9a-f]{12}$/);
    expect(model.cohort).toMatchObject({
      organization: expect.stringMatching(new RegExp(`^${orgA.wallet.address}$`, 'i')),
      condition: BRONCHITIS,
      size: 30,
      positives: cohortFacts.filter((f) => f.onsets.has(BRONCHITIS)).length, // 13, from the JSON
      rowsLeftNode: false,
    });
    expect(model.features.length).toBeGreaterThan(0);
    expect(model.features.every((f) => f.chartSource !== null)).toBe(true);
    // The card holds no per-row value: no fold predictions, only coefficients and aggregates.
    const { models } = await analystA.client.request<{ models: { id: string }[] }>(`{ models { id } }`);
    expect(models.map((m) => m.id)).toContain(model.id);
    const artifact = test.node.services.models.registry.get(model.id).artifact;
    expect(artifact.kind).toBeUndefined();
    if (artifact.kind === undefined) expect(artifact.evaluation.predictions).toEqual([]);
    const after = await Promise.all(cohort.map((user) => researchEntries(user)));
    for (let i = 0; i < cohort.length; i++) {
      expect(after[i].length).toBe(before[i].length + 1);
      expect(after[i][0].purpose).toBe('trainModel');
    }
    expect(await researchEntries(noScope)).toHaveLength(0);
  });

  it('cohort training refuses other organizations, small classes and algorithms that keep rows', async () => {
    const other = await analystB.client.send(TRAIN, {
      input: { organization: orgA.wallet.address, condition: BRONCHITIS, algorithm: 'logreg' },
    });
    expect(other.errors![0].extensions).toMatchObject({
      code: 'FORBIDDEN',
      reason: 'NOT_ORGANIZATION_ANALYST',
    });
    const small = await analystA.client.send(TRAIN, { input: { condition: OTITIS, algorithm: 'logreg' } });
    expect(small.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'COHORT_TOO_SMALL' });
    for (const algorithm of ['svm', 'knn', 'cart']) {
      const keeps = await analystA.client.send(TRAIN, { input: { condition: BRONCHITIS, algorithm } });
      expect(keeps.errors![0].extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        reason: 'ALGORITHM_KEEPS_ROWS',
      });
    }
  });
});
