/* eslint-disable @typescript-eslint/no-explicit-any -- the FHIR fixtures are untyped JSON */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CID } from 'multiformats/cid';
import { READ_RECORD } from '../../examples/client.js';
import { stopTestDatabaseServer } from '../helpers/test-database.js';
import { IMPORT_BUNDLE } from '../records/chart-documents.js';
import { signIn, startTestNode, type SignedInUser, type TestNode } from '../helpers/test-node.js';

const fixtures = path.join(import.meta.dirname, '..', 'fixtures', 'fhir');
const readFixture = (name: string) => JSON.parse(readFileSync(path.join(fixtures, name), 'utf8'));
const synthea = readFixture('8a4c9c04-1524-9f1c-d65b-9b17e4520fef.json');

interface ImportEntry {
  index: number;
  fullUrl: string | null;
  resourceType: string | null;
  recordId: string | null;
  version: number | null;
  outcome: 'CREATED' | 'UPDATED' | 'UNCHANGED' | 'REJECTED';
  code: string | null;
  reason: string | null;
}
interface ImportResult {
  created: number;
  updated: number;
  unchanged: number;
  rejected: number;
  written: boolean;
  entries: ImportEntry[];
}
type Read = {
  record: {
    resource: Record<string, unknown>;
    version: number;
    cid: string;
    history: { version: number; cid: string }[];
  };
};

const REFERENCES = `query ($id: ID!) { record(id: $id) { id references { reference recordId } } }`;

/** Counts rows of the record tables and IPFS blocks, to prove a refused import wrote nothing. */
async function footprint(test: TestNode) {
  const [counts] = await test.node.database.dataSource.query(
    `SELECT (SELECT count(*) FROM record)::int AS records, (SELECT count(*) FROM record_version)::int AS versions,
            (SELECT count(*) FROM anchor_outbox)::int + (SELECT count(*) FROM record_version WHERE anchor_tx IS NOT NULL)::int AS anchors,
            (SELECT count(*) FROM patient_alias)::int AS aliases`,
  );
  let blocks = 0;
  for await (const _ of test.node.content.blocks()) blocks += 1;
  return { ...counts, blocks };
}

function internalReferences(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => internalReferences(v, found));
  else if (value && typeof value === 'object') {
    const object = value as Record<string, unknown>;
    if (typeof object.reference === 'string' && object.reference.startsWith('urn:uuid:')) {
      found.push(object.reference);
    }
    Object.values(object).forEach((v) => internalReferences(v, found));
  }
  return found;
}

describe('importBundle through the real HTTP endpoint', () => {
  let test: TestNode;
  let patient: SignedInUser;
  let first: ImportResult;

  beforeAll(async () => {
    test = await startTestNode();
    patient = await signIn(test, 'PATIENT');
  });

  afterAll(async () => {
    await test?.close();
    await stopTestDatabaseServer();
  });

  const importBundle = async (bundle: unknown, who: SignedInUser = patient) =>
    (
      await who.client.request<{ importBundle: ImportResult }>(IMPORT_BUNDLE, {
        patient: patient.address,
        bundle,
      })
    ).importBundle;

  it('imports the Synthea bundle: one record per resource, counts per type as in the bundle', async () => {
    first = await importBundle(synthea);
    expect(first).toMatchObject({ created: 66, updated: 0, unchanged: 0, rejected: 0, written: true });
    const perType: Record<string, number> = {};
    for (const entry of first.entries) {
      expect(entry.outcome).toBe('CREATED');
      expect(entry.version).toBe(1);
      perType[entry.resourceType!] = (perType[entry.resourceType!] ?? 0) + 1;
    }
    expect(perType).toEqual({
      Patient: 1,
      Encounter: 3,
      Observation: 38,
      Procedure: 3,
      Immunization: 7,
      DiagnosticReport: 4,
      DocumentReference: 3,
      Claim: 3,
      ExplanationOfBenefit: 3,
      Provenance: 1,
    });
    expect(new Set(first.entries.map((e) => e.recordId)).size).toBe(66);
    const [{ count }] = await test.node.database.dataSource.query(
      `SELECT count(*)::int AS count FROM record WHERE patient = $1`,
      [patient.address.toLowerCase()],
    );
    expect(count).toBe(66);
  });

  it('reads every resource back equal to its entry, references kept as written', async () => {
    for (const entry of first.entries) {
      const { record } = await patient.client.request<Read>(READ_RECORD, { id: entry.recordId });
      expect(record.resource).toEqual(synthea.entry[entry.index].resource);
      expect(CID.parse(record.cid).version).toBe(0);
    }
  });

  it('resolves every internal reference to the stored record of the entry it names', async () => {
    const idByFullUrl = new Map(first.entries.map((e) => [e.fullUrl, e.recordId]));
    let checked = 0;
    for (const entry of first.entries) {
      const expected = internalReferences(synthea.entry[entry.index].resource);
      const { record } = await patient.client.request<{
        record: { references: { reference: string; recordId: string | null }[] };
      }>(REFERENCES, { id: entry.recordId });
      for (const reference of expected) {
        const resolved = record.references.find((r) => r.reference === reference);
        expect(resolved?.recordId).toBe(idByFullUrl.get(reference));
        expect(resolved?.recordId).toBeTruthy();
        checked += 1;
      }
      // Conditional references to practitioners and organizations outside the bundle dangle, as written.
      for (const r of record.references.filter((r) => r.reference.includes('?identifier='))) {
        expect(r.recordId).toBeNull();
      }
    }
    expect(checked).toBeGreaterThan(100);
  });

  it('re-imports the same bundle without writing anything', async () => {
    const before = await footprint(test);
    const again = await importBundle(synthea);
    expect(again).toMatchObject({ created: 0, updated: 0, unchanged: 66, rejected: 0, written: true });
    expect(again.entries.map((e) => e.recordId)).toEqual(first.entries.map((e) => e.recordId));
    expect(await footprint(test)).toEqual(before);
  });

  it('turns exactly the changed entries of a modified copy into version 2, linked to version 1', async () => {
    const copy = structuredClone(synthea);
    const weights = copy.entry
      .map((e: { resource: Record<string, any> }, index: number) => ({ resource: e.resource, index }))
      .filter(
        ({ resource }: { resource: Record<string, any> }) => resource.code?.coding?.[0]?.code === '29463-7',
      );
    const changed = [weights[0], weights[2]];
    changed[0].resource.valueQuantity.value = 4.6;
    changed[1].resource.valueQuantity.value = 6.9;
    const result = await importBundle(copy);
    expect(result).toMatchObject({ created: 0, updated: 2, unchanged: 64, rejected: 0 });
    const updated = result.entries.filter((e) => e.outcome === 'UPDATED');
    expect(updated.map((e) => e.index).sort()).toEqual(changed.map((c: { index: number }) => c.index).sort());
    for (const entry of updated) {
      expect(entry.version).toBe(2);
      expect(entry.recordId).toBe(first.entries[entry.index].recordId);
      const { record } = await patient.client.request<Read>(READ_RECORD, { id: entry.recordId });
      expect(record.version).toBe(2);
      expect(record.resource).toEqual(copy.entry[entry.index].resource);
      expect(record.history.map((h) => h.version)).toEqual([2, 1]);
      // The new envelope names the version it replaces.
      const [{ previous_cid }] = await test.node.database.dataSource.query(
        `SELECT previous_cid FROM record_version WHERE record_id = $1 AND version = 2`,
        [entry.recordId],
      );
      expect(previous_cid).toBe(record.history[1].cid);
    }
    // The original again: two more versions (3), back to the first values.
    const back = await importBundle(synthea);
    expect(back).toMatchObject({ updated: 2, unchanged: 64 });
  });

  it('makes addRecord with the same resource id a new version, or nothing when unchanged', async () => {
    const resource = readFixture('Observation-f001.json');
    const add = `mutation ($patient: String!, $resource: JSON!) { addRecord(patient: $patient, resource: $resource) { id version } }`;
    type Added = { addRecord: { id: string; version: number } };
    const one = await patient.client.request<Added>(add, { patient: patient.address, resource });
    const same = await patient.client.request<Added>(add, { patient: patient.address, resource });
    expect(same.addRecord).toEqual(one.addRecord);
    const changed = { ...resource, valueQuantity: { ...resource.valueQuantity, value: 7.1 } };
    const two = await patient.client.request<Added>(add, { patient: patient.address, resource: changed });
    expect(two.addRecord).toEqual({ id: one.addRecord.id, version: 2 });
  });

  it('rejects a bundle with a bad entry and a dangling internal reference, writing nothing', async () => {
    const before = await footprint(test);
    const bad = structuredClone(synthea);
    bad.entry[5].resource.effectiveDateTime = '3 April 2021';
    bad.entry[9].resource.subject = { reference: 'urn:uuid:00000000-0000-0000-0000-000000000000' };
    bad.entry[12].resource.valueQuantity.value = 123.456; // a valid change that must not be written either
    const result = await importBundle(bad);
    expect(result.written).toBe(false);
    expect(result.created + result.updated + result.unchanged).toBe(0);
    expect(result.rejected).toBe(66);
    expect(result.entries[5]).toMatchObject({
      outcome: 'REJECTED',
      code: 'INVALID_RESOURCE',
      recordId: null,
    });
    expect(result.entries[5].reason).toBe(
      'Invalid FHIR R4 Observation: Observation.effective[x]: Invalid dateTime format',
    );
    expect(result.entries[9]).toMatchObject({ outcome: 'REJECTED', code: 'DANGLING_REFERENCE' });
    expect(result.entries[9].reason).toContain('urn:uuid:00000000-0000-0000-0000-000000000000');
    expect(result.entries[12]).toMatchObject({ outcome: 'REJECTED', code: 'BUNDLE_REJECTED' });
    expect(result.entries[12].reason).toMatch(/5, 9/);
    expect(await footprint(test)).toEqual(before);
  });

  it('refuses a bundle over the entry limit as a whole', async () => {
    const before = await footprint(test);
    const entry = Array.from({ length: 10_000 }, (_, i) => ({
      fullUrl: `urn:uuid:00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      resource: { resourceType: 'Basic', id: `b${i}`, code: { text: 'x' } },
      request: { method: 'POST', url: 'Basic' },
    }));
    const response = await patient.client.send<{ importBundle: ImportResult }>(IMPORT_BUNDLE, {
      patient: patient.address,
      bundle: { resourceType: 'Bundle', type: 'transaction', entry },
    });
    expect(response.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      reason: 'TOO_MANY_ENTRIES',
      entries: 10_000,
      limit: 5_000,
    });
    expect(await footprint(test)).toEqual(before);
  });

  it('gives each entry of the official transaction example a clear outcome', async () => {
    const before = await footprint(test);
    const result = await importBundle(readFixture('Bundle-bundle-transaction.json'));
    expect(result.written).toBe(false);
    expect(result.entries.map((e) => e.code)).toEqual([
      'BUNDLE_REJECTED', // POST Patient
      'BUNDLE_REJECTED', // POST Patient with ifNoneExist: accepted (identity dedupes)
      'BUNDLE_REJECTED', // PUT Patient/123
      'CONDITIONAL_NOT_SUPPORTED', // PUT Patient?identifier=...
      'CONDITIONAL_NOT_SUPPORTED', // PUT with ifMatch
      'UNSUPPORTED_METHOD', // DELETE Patient/234
      'UNSUPPORTED_METHOD', // DELETE Patient?identifier=...
      'UNSUPPORTED_OPERATION', // POST ValueSet/$lookup
      'UNSUPPORTED_METHOD', // GET Patient?name=peter
      'UNSUPPORTED_METHOD', // GET Patient/12334
    ]);
    for (const entry of result.entries) expect(entry.reason).toBeTruthy();
    expect(await footprint(test)).toEqual(before);
  });

  it('forbids importing into another patient chart', async () => {
    const stranger = await signIn(test, 'PATIENT');
    const response = await stranger.client.send(IMPORT_BUNDLE, { patient: patient.address, bundle: synthea });
    expect(response.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});
