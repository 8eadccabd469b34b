/* eslint-disable @typescript-eslint/no-explicit-any -- the FHIR fixtures are untyped JSON */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CID } from 'multiformats/cid';
import { ADD_RECORD } from '../../examples/client.js';
import { openRecord } from '../../src/storage/envelope.js';
import { grant } from '../helpers/consent.js';
import { stopTestDatabaseServer } from '../helpers/test-database.js';
import { signIn, startTestNode, type SignedInUser, type TestNode } from '../helpers/test-node.js';
import { requestQueriesDuring } from '../helpers/request-queries.js';
import { waitFor } from '../helpers/wait-for.js';
import { IMPORT_BUNDLE } from '../records/chart-documents.js';

const fixtures = path.join(import.meta.dirname, '..', 'fixtures', 'fhir');
const synthea = JSON.parse(
  readFileSync(path.join(fixtures, '8a4c9c04-1524-9f1c-d65b-9b17e4520fef.json'), 'utf8'),
);
const patientEntry = synthea.entry.find((e: any) => e.resource.resourceType === 'Patient');

type Reference = { reference: string; recordId: string | null };
type Node = {
  id: string;
  resourceType: string;
  cid: string;
  envelopeCid: string | null;
  references: Reference[];
  anchor: { status: string };
};
type Page = { phr: { timeline: { edges: { node: Node }[] } } };
type Failure = { errors?: { message: string; path?: unknown[]; extensions?: { code?: string } }[] };

const FIELDS = 'id resourceType cid envelopeCid references { reference recordId } anchor { status }';
const PAGE = `query ($p: String!, $first: Int!, $types: [String!]) {
  phr(patient: $p) { timeline(first: $first, types: $types) { edges { node { ${FIELDS} } } } } }`;
const ONE = `query ($id: ID!) { record(id: $id) { ${FIELDS} } }`;

/** Observations written after the grant, referring to the Synthea Patient by its own id. */
function laterObservation(i: number) {
  return {
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
    subject: { reference: `Patient/${patientEntry.resource.id}` },
    effectiveDateTime: `2030-01-0${i + 1}T08:00:00Z`,
    valueQuantity: { value: 60 + i, unit: '/min' },
  };
}

function urnReferences(value: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(value)) value.forEach((v) => urnReferences(v, found));
  else if (value && typeof value === 'object') {
    const object = value as Record<string, unknown>;
    if (typeof object.reference === 'string' && object.reference.startsWith('urn:uuid:')) {
      found.add(object.reference);
    }
    Object.values(object).forEach((v) => urnReferences(v, found));
  }
  return found;
}

describe('envelopeCid and references on a page of records: batched, same answers, same access', () => {
  let test: TestNode;
  let patient: SignedInUser;
  let doctor: SignedInUser;
  /** record id → the Bundle entry it was imported from; record id of each entry fullUrl. */
  const entryOf = new Map<string, any>();
  const idByFullUrl = new Map<string, string>();
  const later: string[] = [];
  let patientRecordId: string;
  let unshared: string;

  beforeAll(async () => {
    test = await startTestNode();
    patient = await signIn(test, 'PATIENT');
    doctor = await signIn(test, 'PRACTITIONER');
    const { importBundle } = await patient.client.request<{
      importBundle: { written: boolean; entries: { index: number; recordId: string }[] };
    }>(IMPORT_BUNDLE, { patient: patient.address, bundle: synthea });
    expect(importBundle.written).toBe(true);
    for (const entry of importBundle.entries) {
      entryOf.set(entry.recordId, synthea.entry[entry.index]);
      idByFullUrl.set(synthea.entry[entry.index].fullUrl, entry.recordId);
    }
    patientRecordId = idByFullUrl.get(patientEntry.fullUrl)!;
    // Observations only: the grant wraps the keys of the imported Observations for the doctor.
    const granted = await grant(patient.client, {
      patient: patient.identity,
      grantee: doctor.address,
      scopes: ['patient/Observation.rs'],
      expiresAt: new Date(Date.now() + 3_600_000),
    });
    expect(granted.errors).toBeUndefined();
    for (let i = 0; i < 3; i += 1) {
      const { addRecord } = await patient.client.request<{ addRecord: { id: string } }>(ADD_RECORD, {
        patient: patient.address,
        resource: laterObservation(i),
      });
      later.push(addRecord.id);
    }
    // One imported Observation whose grant-time copy is missing: the doctor has no envelope of it.
    const [share] = await test.node.database.dataSource.query(
      `WITH gone AS (
         DELETE FROM record_key_share WHERE record_id = (
           SELECT record_id FROM record_key_share WHERE grantee = $1 ORDER BY record_id LIMIT 1)
         RETURNING record_id)
       SELECT record_id FROM gone`,
      [doctor.address.toLowerCase()],
    );
    unshared = share.record_id;
    // Anchoring writes record_version rows in the background: let it finish before counting queries.
    await waitFor(async () => {
      const [{ pending }] = await test.node.database.dataSource.query(
        `SELECT count(*)::int AS pending FROM record_version WHERE anchor_tx IS NULL`,
      );
      return pending === 0;
    }, 60_000);
  });

  afterAll(async () => {
    await test?.close();
    await stopTestDatabaseServer();
  });

  const page = async (who: SignedInUser, first: number, types?: string[]) =>
    (await who.client.request<Page>(PAGE, { p: patient.address, first, types })).phr.timeline.edges.map(
      (e) => e.node,
    );

  /** What the node answers for the record alone (a batch of one: the unbatched answer). */
  const alone = async (who: SignedInUser, id: string) =>
    (await who.client.request<{ record: Node }>(ONE, { id })).record;

  /** What each record's references must resolve to, from the fixture and the records written later. */
  function expectKnownReferences(node: Node) {
    const entry = entryOf.get(node.id);
    if (!entry) {
      expect(node.references).toEqual([
        { reference: `Patient/${patientEntry.resource.id}`, recordId: patientRecordId },
      ]);
      return;
    }
    const internal = urnReferences(entry.resource);
    for (const reference of internal) {
      expect(node.references).toContainEqual({ reference, recordId: idByFullUrl.get(reference) });
    }
    // Everything else (Practitioner?identifier=..., Organization?identifier=...) dangles, as written.
    for (const r of node.references.filter((r) => !internal.has(r.reference))) {
      expect(r.recordId).toBeNull();
    }
  }

  it("the patient's whole chart in one page: each record's answers equal its answers alone, and the known ones", async () => {
    const nodes = await page(patient, 100);
    expect(nodes).toHaveLength(69);
    let resolved = 0;
    for (const node of nodes) {
      expect(node).toEqual(await alone(patient, node.id));
      // The patient is a recipient of every envelope of their chart.
      expect(node.envelopeCid).toBe(node.cid);
      expectKnownReferences(node);
      resolved += node.references.filter((r) => r.recordId !== null).length;
    }
    expect(resolved).toBeGreaterThan(100);
  });

  it("the doctor's page of Observations: the same answers as alone, its own envelopes, references as for the patient", async () => {
    const nodes = await page(doctor, 100, ['Observation']);
    expect(nodes).toHaveLength(41);
    const shares = new Map<string, string>(
      (
        await test.node.database.dataSource.query(
          `SELECT record_id, cid FROM record_key_share WHERE grantee = $1`,
          [doctor.address.toLowerCase()],
        )
      ).map((row: { record_id: string; cid: string }) => [row.record_id, row.cid]),
    );
    for (const node of nodes) {
      expect(node).toEqual(await alone(doctor, node.id));
      if (node.id === unshared) expect(node.envelopeCid).toBeNull();
      else if (later.includes(node.id)) expect(node.envelopeCid).toBe(node.cid);
      else {
        expect(node.envelopeCid).toBe(shares.get(node.id));
      }
      if (node.envelopeCid) {
        // An envelope the doctor opens with its own key, sealed for exactly this record.
        const envelope = await test.node.content.get(CID.parse(node.envelopeCid));
        const payload = JSON.parse(
          Buffer.from(
            openRecord({ envelope, boxSecretKey: doctor.identity.boxKeyPair.secretKey }),
          ).toString(),
        );
        expect(payload.recordId).toBe(node.id);
      }
      expectKnownReferences(node);
    }
    // Each Observation's subject resolves to the Patient record, as it does for the patient ...
    expect(nodes.every((n) => n.references.some((r) => r.recordId === patientRecordId))).toBe(true);
  });

  it('... but a resolved reference is an id, not the record: the doctor cannot read the Patient or Encounters it names', async () => {
    const nodes = await page(doctor, 100, ['Observation']);
    const named = new Set(nodes.flatMap((n) => n.references.map((r) => r.recordId).filter((id) => id)));
    const targets = [...named].filter((id) => entryOf.get(id!)?.resource.resourceType !== 'Observation');
    expect(targets).toContain(patientRecordId);
    expect(targets.length).toBeGreaterThan(1);
    for (const id of targets) {
      const read = await doctor.client.send<Failure>(ONE, { id });
      expect(read.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    }
    // Nor list them, nor resolve the references of a record it may not read.
    const patients = await doctor.client.send<Failure>(PAGE, {
      p: patient.address,
      first: 5,
      types: ['Patient'],
    });
    expect(patients.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    const encounter = targets.find((id) => entryOf.get(id!)?.resource.resourceType === 'Encounter')!;
    const stranger = await signIn(test, 'PRACTITIONER');
    for (const who of [doctor, stranger]) {
      const refs = await who.client.send<Failure & { data?: unknown }>(
        `query ($id: ID!) { record(id: $id) { references { recordId } } }`,
        { id: encounter },
      );
      expect(refs.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    }
  });

  /** SELECTs on the record tables and accounts while the node serves `run`'s requests. */
  const queriesFor = (run: () => Promise<unknown>) =>
    requestQueriesDuring(run, /\b(record|record_version|record_key_share|account)\b/);

  it('serves a page with envelopeCid and references in the same number of queries whatever its size', async () => {
    const counts: Record<string, number> = {};
    for (const n of [2, 10, 69]) {
      counts[`patient ${n}`] = (
        await queriesFor(async () => expect(await page(patient, n)).toHaveLength(n))
      ).length;
    }
    for (const n of [2, 41]) {
      // The doctor's reads are authorized and audited per record (policy); the field loaders are not.
      const loaders = (
        await queriesFor(async () => expect(await page(doctor, n, ['Observation'])).toHaveLength(n))
      ).filter((q) => /record_key_share|^SELECT box_public_key FROM account|t\(i, reference/.test(q));
      counts[`doctor ${n}`] = loaders.length;
    }
    expect(counts['patient 10']).toBe(counts['patient 2']);
    expect(counts['patient 69']).toBe(counts['patient 2']);
    // Key shares, the doctor's box key (some records have no share), references: one query each.
    expect(counts['doctor 2']).toBe(3);
    expect(counts['doctor 41']).toBe(3);
  });
});
