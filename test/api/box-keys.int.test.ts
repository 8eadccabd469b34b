import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CID } from 'multiformats/cid';
import { ADD_RECORD, newIdentity } from '../../examples/client.js';
import { openRecord, recipientsOf } from '../../src/storage/envelope.js';
import { grant } from '../helpers/consent.js';
import { LOW_ORDER_ENCODINGS, P, encode } from '../helpers/low-order-keys.js';
import { stopTestDatabaseServer } from '../helpers/test-database.js';
import { signIn, startTestNode, type TestNode } from '../helpers/test-node.js';

const fixtures = path.join(import.meta.dirname, '..', 'fixtures', 'fhir');
const observation = JSON.parse(readFileSync(path.join(fixtures, 'Observation-f001.json'), 'utf8'));

const REGISTER = `mutation ($input: RegistrationInput!, $signature: String!) {
  registerAccount(input: $input, signature: $signature) { address }
}`;
const MESSAGE = `query ($input: RegistrationInput!) { registrationMessage(input: $input) }`;

type Failure = { errors?: { message: string; extensions?: { code?: string; field?: string } }[] };

describe('box keys: registration refuses unusable keys, sealing skips them', () => {
  let test: TestNode;

  beforeAll(async () => {
    test = await startTestNode();
  });

  afterAll(async () => {
    await test?.close();
    await stopTestDatabaseServer();
  });

  it.each([
    ['all zeros', new Uint8Array(32), /all zeros/],
    ['an order-8 point', LOW_ORDER_ENCODINGS[3], /low-order/],
    ['p + 1 (a non-canonical 1)', encode(P + 1n), /low-order/],
    ['1 with bit 255 set', LOW_ORDER_ENCODINGS[8], /low-order/],
  ])(
    'registerAccount refuses a box key that is %s (BAD_USER_INPUT, field boxPublicKey)',
    async (_, key, why) => {
      const identity = newIdentity();
      const input = {
        address: identity.wallet.address,
        role: 'PATIENT',
        displayName: 'Low Order',
        boxPublicKey: Buffer.from(key).toString('base64'),
        issuedAt: new Date().toISOString(),
      };
      const client = test.client();
      const message = await client.send<Failure>(MESSAGE, { input });
      // The signature is over text of the client's own making: the key is refused before it is checked.
      const signature = await identity.wallet.signMessage('Omnichart account registration');
      const registered = await client.send<Failure>(REGISTER, { input, signature });
      for (const response of [message, registered]) {
        expect(response.errors).toHaveLength(1);
        expect(response.errors![0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'boxPublicKey' });
        expect(response.errors![0].message).toMatch(why);
      }
      expect(await test.node.ledger.accountKey(identity.wallet.address)).toBeNull();
    },
  );

  it('a grantee whose stored key is low-order does not block the patient; the others still open the record', async () => {
    const patient = await signIn(test, 'PATIENT');
    const good = await signIn(test, 'PRACTITIONER');
    const legacy = await signIn(test, 'PRACTITIONER');
    // An account stored before registration checked keys: its row carries a low-order key.
    const lowOrder = LOW_ORDER_ENCODINGS[4];
    await test.node.database.dataSource.query(`UPDATE account SET box_public_key = $1 WHERE address = $2`, [
      Buffer.from(lowOrder).toString('base64'),
      legacy.address.toLowerCase(),
    ]);
    const before = await patient.client.request<{ addRecord: { id: string; cid: string } }>(ADD_RECORD, {
      patient: patient.address,
      resource: { ...observation, id: 'before-grants' },
    });
    const inAnHour = new Date(Date.now() + 3_600_000);
    // Granting the legacy account shares nothing with it (no key to wrap for) but does not fail.
    for (const grantee of [legacy, good]) {
      const response = await grant(patient.client, {
        patient: patient.identity,
        grantee: grantee.address,
        scopes: ['patient/*.rs'],
        expiresAt: inAnHour,
      });
      expect(response.errors).toBeUndefined();
      expect(response.data!.grantAccess.active).toBe(true);
    }

    const written = await patient.client.send<{ addRecord: { id: string; cid: string; version: number } }>(
      ADD_RECORD,
      { patient: patient.address, resource: observation },
    );
    expect(written.errors).toBeUndefined();
    expect(written.data!.addRecord.version).toBe(1);

    const envelope = await test.node.content.get(CID.parse(written.data!.addRecord.cid));
    const listed = recipientsOf(envelope).map((k) => Buffer.from(k).toString('base64'));
    const b64 = (key: Uint8Array) => Buffer.from(key).toString('base64');
    expect(new Set(listed)).toEqual(
      new Set([
        b64(patient.identity.boxKeyPair.publicKey),
        b64(test.node.keys.boxPublicKey),
        b64(good.identity.boxKeyPair.publicKey),
      ]),
    );
    expect(listed).not.toContain(b64(lowOrder));
    for (const reader of [patient, good]) {
      const payload = JSON.parse(
        Buffer.from(openRecord({ envelope, boxSecretKey: reader.identity.boxKeyPair.secretKey })).toString(),
      );
      expect(payload.resource).toEqual(observation);
      expect(payload.recordId).toBe(written.data!.addRecord.id);
    }

    // The good grantee reads both records through the API; the earlier one through its grant-time copy.
    for (const id of [before.addRecord.id, written.data!.addRecord.id]) {
      const read = await good.client.request<{ record: { resource: { id?: string } } }>(
        `query ($id: ID!) { record(id: $id) { resource } }`,
        { id },
      );
      expect(read.record.resource.id).toBe(id === before.addRecord.id ? 'before-grants' : observation.id);
    }
  });
});
