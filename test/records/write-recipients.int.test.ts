import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CID } from 'multiformats/cid';
import { ADD_RECORD, IMPORT_BUNDLE } from '../../examples/client.js';
import { recipientsOf } from '../../src/storage/envelope.js';
import { grant, revoke } from '../helpers/consent.js';
import { stopTestDatabaseServer } from '../helpers/test-database.js';
import { signIn, startTestNode, type SignedInUser, type TestNode } from '../helpers/test-node.js';

const fixtures = path.join(import.meta.dirname, '..', 'fixtures', 'fhir');
const fixture = (name: string) => JSON.parse(readFileSync(path.join(fixtures, name), 'utf8'));
const observation = fixture('Observation-f001.json');
const condition = fixture('Condition-example.json');

const b64 = (key: Uint8Array) => Buffer.from(key).toString('base64');

/*
 * Whom a new record key is wrapped for: the patient, this node, and exactly the grantees whose active
 * consent covers reading that type, as the write's own lookup finds them (one query with the write's
 * identities). A revoked, expired or narrower grant adds no recipient.
 */
describe('recipients of the record keys a write makes', () => {
  let test: TestNode;
  let patient: SignedInUser;
  let readsObservations: SignedInUser;
  let readsConditions: SignedInUser;
  let revoked: SignedInUser;
  let expired: SignedInUser;

  /** The box keys the envelope of the record's current version is wrapped for. */
  async function recipientsOfRecord(id: string): Promise<Set<string>> {
    const { record } = await patient.client.request<{ record: { cid: string } }>(
      `query ($id: ID!) { record(id: $id) { cid } }`,
      { id },
    );
    return new Set(recipientsOf(await test.node.content.get(CID.parse(record.cid))).map(b64));
  }

  const keyOf = (user: SignedInUser) => b64(user.identity.boxKeyPair.publicKey);

  beforeAll(async () => {
    test = await startTestNode();
    patient = await signIn(test, 'PATIENT');
    [readsObservations, readsConditions, revoked, expired] = await Promise.all(
      [1, 2, 3, 4].map(() => signIn(test, 'PRACTITIONER')),
    );
    const inAnHour = new Date(Date.now() + 3_600_000);
    const granted = async (grantee: SignedInUser, scopes: string[], expiresAt = inAnHour) => {
      const response = await grant(patient.client, {
        patient: patient.identity,
        grantee: grantee.address,
        scopes,
        expiresAt,
      });
      expect(response.errors).toBeUndefined();
      return response.data!.grantAccess.id;
    };
    await granted(readsObservations, ['patient/Observation.rs']);
    await granted(readsConditions, ['patient/Condition.rs']);
    const toRevoke = await granted(revoked, ['patient/*.rs']);
    expect((await revoke(patient.client, patient.identity, toRevoke)).errors).toBeUndefined();
    // A grant that has run out: written as the chain gave it, with its end moved into the past.
    await granted(expired, ['patient/*.rs']);
    await test.node.database.dataSource.query(
      `UPDATE access_grant SET expires_at = now() - interval '1 minute' WHERE grantee = $1`,
      [expired.address.toLowerCase()],
    );
  });

  afterAll(async () => {
    await test?.close();
    await stopTestDatabaseServer();
  });

  it('addRecord wraps the key for the patient, this node and the grantees covering the type only', async () => {
    const written = await patient.client.request<{ addRecord: { id: string } }>(ADD_RECORD, {
      patient: patient.address,
      resource: observation,
    });
    expect(await recipientsOfRecord(written.addRecord.id)).toEqual(
      new Set([keyOf(patient), b64(test.node.keys.boxPublicKey), keyOf(readsObservations)]),
    );
  });

  it('importBundle chooses each entry’s grantees by its own type', async () => {
    const bundle = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [
        {
          fullUrl: 'urn:uuid:5b1e3c52-54a4-4a8e-b6a7-1f2f7d0c0a01',
          resource: { ...observation, id: 'obs-b' },
        },
        { fullUrl: 'urn:uuid:5b1e3c52-54a4-4a8e-b6a7-1f2f7d0c0a02', resource: condition },
      ],
    };
    const imported = await patient.client.request<{
      importBundle: { written: boolean; entries: { recordId: string }[] };
    }>(IMPORT_BUNDLE, { patient: patient.address, bundle });
    expect(imported.importBundle.written).toBe(true);
    const [observationId, conditionId] = imported.importBundle.entries.map((e) => e.recordId);
    const always = [keyOf(patient), b64(test.node.keys.boxPublicKey)];
    expect(await recipientsOfRecord(observationId)).toEqual(new Set([...always, keyOf(readsObservations)]));
    expect(await recipientsOfRecord(conditionId)).toEqual(new Set([...always, keyOf(readsConditions)]));
  });
});
