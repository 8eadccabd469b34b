import { CID } from 'multiformats/cid';
import nacl from 'tweetnacl';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ADD_RECORD, IMPORT_BUNDLE } from '../../examples/client.js';
import { openRecord } from '../../src/storage/envelope.js';
import { ACCOUNT_CHANGED_CHANNEL } from '../../src/storage/session-events.js';
import { grant, revoke } from '../helpers/consent.js';
import { stopTestDatabaseServer } from '../helpers/test-database.js';
import { signIn, startTestNode, type SignedInUser, type TestNode } from '../helpers/test-node.js';
import { eventually } from '../helpers/wait-for.js';

const ENVELOPE = `query ($id: ID!) { record(id: $id) { cid envelopeCid } }`;

function observation(i: number) {
  return {
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
    effectiveDateTime: `2024-02-0${i + 1}T08:00:00Z`,
    valueQuantity: { value: 60 + i, unit: '/min' },
  };
}

describe('sharing record keys with a grantee: one copy per record and key, not one per grant', () => {
  let test: TestNode;
  let patient: SignedInUser;
  let doctor: SignedInUser;
  const before: string[] = [];
  let during: string;

  beforeAll(async () => {
    test = await startTestNode();
    patient = await signIn(test, 'PATIENT');
    doctor = await signIn(test, 'PRACTITIONER');
    for (let i = 0; i < 3; i += 1) {
      const { addRecord } = await patient.client.request<{ addRecord: { id: string } }>(ADD_RECORD, {
        patient: patient.address,
        resource: observation(i),
      });
      before.push(addRecord.id);
    }
  });

  afterAll(async () => {
    await test?.close();
    await stopTestDatabaseServer();
  });

  const grantDoctor = async () => {
    const response = await grant(patient.client, {
      patient: patient.identity,
      grantee: doctor.address,
      scopes: ['patient/Observation.rs'],
      expiresAt: new Date(Date.now() + 3_600_000),
    });
    expect(response.errors).toBeUndefined();
    return response.data!.grantAccess.id;
  };
  const shares = async (grantee = doctor) =>
    Object.fromEntries(
      (
        await test.node.database.dataSource.query(
          `SELECT record_id, cid FROM record_key_share WHERE grantee = $1`,
          [grantee.address.toLowerCase()],
        )
      ).map((row: { record_id: string; cid: string }) => [row.record_id, row.cid]),
    );
  const blocks = async () => {
    let n = 0;
    for await (const _ of test.node.content.blocks()) n += 1;
    return n;
  };
  const envelopeOf = async (id: string) =>
    (await doctor.client.request<{ record: { cid: string; envelopeCid: string } }>(ENVELOPE, { id })).record;
  const opensWith = async (cid: string, secretKey: Uint8Array) =>
    JSON.parse(
      Buffer.from(
        openRecord({ envelope: await test.node.content.get(CID.parse(cid)), boxSecretKey: secretKey }),
      ).toString(),
    ).recordId;

  it('a first grant copies the records written before it; a record written during it needs none', async () => {
    const first = await grantDoctor();
    expect(Object.keys(await shares()).sort()).toEqual([...before].sort());
    const { addRecord } = await patient.client.request<{ addRecord: { id: string } }>(ADD_RECORD, {
      patient: patient.address,
      resource: observation(5),
    });
    during = addRecord.id;
    expect((await envelopeOf(during)).envelopeCid).toBe((await envelopeOf(during)).cid);
    expect((await revoke(patient.client, patient.identity, first)).errors).toBeUndefined();
  });

  it('granting again after a revoke (no reseal) makes no new envelope: the same copies serve', async () => {
    const copies = await shares();
    const stored = await blocks();
    await grantDoctor();
    expect(await shares()).toEqual(copies);
    expect(await blocks()).toBe(stored);
    for (const id of [...before, during]) {
      const { envelopeCid } = await envelopeOf(id);
      expect(envelopeCid).toBe(copies[id] ?? (await envelopeOf(id)).cid);
      expect(await opensWith(envelopeCid, doctor.identity.boxKeyPair.secretKey)).toBe(id);
    }
  });

  it('a grantee with a new box key gets new copies, for that key', async () => {
    const copies = await shares();
    const fresh = nacl.box.keyPair();
    const freshKey = Buffer.from(fresh.publicKey).toString('base64');
    // Written as a registration write is, with its NOTIFY in the same statement (accounts are cached).
    await test.node.database.dataSource.query(
      `WITH written AS (UPDATE account SET box_public_key = $1 WHERE address = $2 RETURNING address)
       SELECT pg_notify('${ACCOUNT_CHANGED_CHANNEL}', address) FROM written`,
      [freshKey, doctor.address.toLowerCase()],
    );
    await eventually(async () => {
      const { me } = await doctor.client.request<{ me: { boxPublicKey: string } }>(`{ me { boxPublicKey } }`);
      return me.boxPublicKey === freshKey ? true : undefined;
    }, 'the node to read the new key');
    await grantDoctor();
    const now = await shares();
    // Every record, the one written during the first grant too: its envelope names the old key.
    expect(Object.keys(now).sort()).toEqual([...before, during].sort());
    for (const id of [...before, during]) {
      expect(now[id]).not.toBe(copies[id]);
      expect(await opensWith(now[id], fresh.secretKey)).toBe(id);
    }
  });

  it('shares a chart larger than one step: every covered record, each copy opening for the grantee', async () => {
    // 150 Observations and 10 Conditions: more records than a step reads and writes at once (64).
    const [owner, reader] = [await signIn(test, 'PATIENT'), await signIn(test, 'PRACTITIONER')];
    const condition = JSON.parse(
      readFileSync(path.join(import.meta.dirname, '../fixtures/fhir/Condition-example.json'), 'utf8'),
    );
    const bundle = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [
        ...Array.from({ length: 150 }, (_, i) => ({
          resource: {
            ...observation(0),
            id: `obs-${i}`,
            effectiveDateTime: new Date(Date.UTC(2024, 0, 1, 0, i)).toISOString(),
          },
        })),
        ...Array.from({ length: 10 }, (_, i) => ({ resource: { ...condition, id: `condition-${i}` } })),
      ],
    };
    const { importBundle } = await owner.client.request<{
      importBundle: { created: number; entries: { index: number; recordId: string }[] };
    }>(IMPORT_BUNDLE, { patient: owner.address, bundle });
    expect(importBundle.created).toBe(160);
    const grantOwnChart = async () => {
      const response = await grant(owner.client, {
        patient: owner.identity,
        grantee: reader.address,
        scopes: ['patient/Observation.rs'],
        expiresAt: new Date(Date.now() + 3_600_000),
      });
      expect(response.errors).toBeUndefined();
    };
    await grantOwnChart();
    const made = await shares(reader);
    expect(Object.keys(made)).toHaveLength(150);
    for (const { index, recordId } of importBundle.entries) {
      if (index >= 150) {
        expect(made[recordId]).toBeUndefined();
        continue;
      }
      expect(await opensWith(made[recordId], reader.identity.boxKeyPair.secretKey)).toBe(recordId);
    }
    // A second grant to the same key finds every record openable: no new copy, no new block.
    const stored = await blocks();
    await grantOwnChart();
    expect(await shares(reader)).toEqual(made);
    expect(await blocks()).toBe(stored);
  });
});
