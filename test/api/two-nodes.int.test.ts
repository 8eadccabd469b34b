import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import {
  ADD_RECORD,
  OmnichartClient,
  READ_RECORD,
  VERIFY_RECORD,
  addSignedRecord,
  login,
  signTypedData,
  newIdentity,
  register,
} from '../../examples/client.js';
import type { SealedPayload } from '../../src/records/record-service.js';
import { anchorForged, openRogueRelayer, sealForged } from '../helpers/forged-versions.js';
import { stopTestDatabaseServer } from '../helpers/test-database.js';
import type { TestNode } from '../helpers/test-node.js';
import { startTwoNodes } from '../helpers/two-nodes.js';
import { eventually } from '../helpers/wait-for.js';

const observation = {
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8310-5', display: 'Body temperature' }] },
  effectiveDateTime: '2026-11-24T07:15:00Z',
  valueQuantity: { value: 37.2, unit: 'Cel', system: 'http://unitsofmeasure.org', code: 'Cel' },
};

describe('two nodes on one chain: one unified view', () => {
  let a: TestNode;
  let b: TestNode;

  beforeAll(async () => {
    ({ a, b } = await startTwoNodes());
  });

  afterAll(async () => {
    await b?.close();
    await a?.close();
    await stopTestDatabaseServer();
  });

  it('shows a record written at node A in node B’s chart, live, decrypted and verified', async () => {
    const patient = newIdentity();
    const atA = new OmnichartClient(a.node.url);
    await register(atA, patient, 'PATIENT', 'Roaming Patient');
    await login(atA, patient);

    // Node B adopts the account from its chain event, which carries the signed registration.
    const atB = new OmnichartClient(b.node.url);
    await eventually(
      async () =>
        (await b.node.services.accounts.find(patient.wallet.address.toLowerCase())) ? true : undefined,
      'node B to adopt the account',
    );
    await login(atB, patient);

    const ws = createClient({
      url: b.node.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${atB.token}` },
      retryAttempts: 0,
    });
    const arrived = new Promise<{ id: string; resource: unknown }>((resolve, reject) => {
      ws.subscribe<{ recordAdded: { id: string; resource: unknown } }>(
        {
          query: `subscription ($p: String!) { recordAdded(patient: $p) { id resource } }`,
          variables: { p: patient.wallet.address },
        },
        { next: ({ data }) => resolve(data!.recordAdded), error: reject, complete: () => undefined },
      );
    });
    await eventually(
      async () => (b.node.services.records.events.subscriberCount > 0 ? true : undefined),
      'the subscription',
    );

    const { addRecord } = await atA.request<{ addRecord: { id: string } }>(ADD_RECORD, {
      patient: patient.wallet.address,
      resource: observation,
    });
    const live = await arrived;
    expect(live.id).toBe(addRecord.id);
    expect(live.resource).toEqual(observation);
    await ws.dispose();

    const { record } = await atB.request<{ record: { resource: unknown; anchor: { status: string } } }>(
      READ_RECORD,
      {
        id: addRecord.id,
      },
    );
    expect(record.resource).toEqual(observation);
    expect(record.anchor.status).toBe('ANCHORED');
    const { verifyRecord } = await atB.request<{ verifyRecord: { verified: boolean } }>(VERIFY_RECORD, {
      id: addRecord.id,
    });
    expect(verifyRecord.verified).toBe(true);
  });

  it('adopts a signed version from node A as author-verified, and neither node serves a tampered one', async () => {
    const patient = newIdentity();
    const atA = new OmnichartClient(a.node.url);
    await register(atA, patient, 'PATIENT', 'Signing Patient');
    await login(atA, patient);
    await eventually(
      async () =>
        (await b.node.services.accounts.find(patient.wallet.address.toLowerCase())) ? true : undefined,
      'node B to adopt the account',
    );
    const atB = new OmnichartClient(b.node.url);
    await login(atB, patient);

    const written = await addSignedRecord(atA, patient, patient.wallet.address, {
      ...observation,
      id: 't-1',
    });
    const signed = written.data!.addRecord;
    expect(signed.authorVerified).toBe(true);
    const READ = `query ($id: ID!) { record(id: $id) { version cid authorVerified resource } }`;
    type Read = {
      record: { version: number; cid: string; authorVerified: boolean; resource: unknown } | null;
    };
    const atBRecord = await eventually(async () => {
      const response = await atB.send<Read>(READ, { id: signed.id });
      return response.data?.record ?? undefined;
    }, 'node B to adopt the signed record');
    expect(atBRecord).toMatchObject({ version: 1, cid: signed.cid, authorVerified: true });

    // A third admitted relayer seals version 2 by hand with the patient's genuine signature over one
    // amendment, and another amendment inside: the signature no longer matches what it carries.
    const rogue = await openRogueRelayer(a.node);
    try {
      const owner = patient.wallet.address.toLowerCase();
      const { recordTypedData } = await atA.request<{ recordTypedData: unknown }>(
        `query ($p: String!, $r: JSON!) { recordTypedData(patient: $p, resource: $r) }`,
        { p: patient.wallet.address, r: { ...observation, id: 't-1', status: 'amended' } },
      );
      expect(recordTypedData).toMatchObject({
        primaryType: 'RecordVersion',
        message: { version: 2, recordId: `0x${signed.id.replaceAll('-', '')}` },
      });
      const tampered: SealedPayload = {
        recordId: signed.id,
        version: 2,
        patient: owner,
        resource: { ...observation, id: 't-1', status: 'entered-in-error' } as SealedPayload['resource'],
        previousCid: signed.cid,
        author: owner,
        sourceKey: 't-1',
        authorSignature: await signTypedData(patient, recordTypedData),
      };
      const cid = await sealForged(
        tampered,
        [a.node.keys.boxPublicKey, b.node.keys.boxPublicKey],
        [a.node.content],
      );
      await anchorForged(rogue, [{ patient: owner, recordId: signed.id, version: 2, cid }]);
      for (const node of [a, b]) {
        const [row] = await eventually(async () => {
          const rows = await node.node.services.records.quarantined(signed.id);
          return rows.length > 0 ? rows : undefined;
        }, 'the tampered version in quarantine');
        expect(row).toMatchObject({ version: 2, cid, reason: 'BAD_AUTHOR_SIGNATURE' });
      }
      const after = await atB.request<Read>(READ, { id: signed.id });
      expect(after.record).toMatchObject({
        version: 1,
        cid: signed.cid,
        resource: { ...observation, id: 't-1' },
      });
    } finally {
      await rogue.close();
    }
  });
});
