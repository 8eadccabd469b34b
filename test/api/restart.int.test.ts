import { ADD_RECORD, OmnichartClient, READ_RECORD, VERIFY_RECORD } from '../../examples/client.js';
import type { EmbeddedLedger } from '../../src/ledger/embedded-chain.js';
import { stopTestDatabaseServer } from '../helpers/test-database.js';
import { signIn, startTestNode, type TestNode } from '../helpers/test-node.js';

const observation = {
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
  subject: { reference: 'Patient/restart-test' },
  effectiveDateTime: '2026-11-25T10:00:00Z',
  valueQuantity: { value: 64, unit: 'beats/minute', system: 'http://unitsofmeasure.org', code: '/min' },
};

type Added = { addRecord: { id: string; anchor: { status: string } } };
type Read = { record: { resource: unknown; anchor: { status: string } } };
type Proof = { verifyRecord: { verified: boolean } };

describe('restarts and chain outages', () => {
  let test: TestNode;

  beforeAll(async () => {
    test = await startTestNode();
  });

  afterAll(async () => {
    await test?.close();
    await stopTestDatabaseServer();
  });

  it('anchors a record written while the chain was down once it is back, and survives a restart', async () => {
    const patient = await signIn(test, 'PATIENT');
    const before = await patient.client.request<Added>(ADD_RECORD, {
      patient: patient.address,
      resource: observation,
    });
    await test.node.anchorQueue.drained();

    const chain = (test.node.ledger as EmbeddedLedger).chain;
    await chain.stop();
    const during = await patient.client.request<Added>(ADD_RECORD, {
      patient: patient.address,
      resource: { ...observation, valueQuantity: { ...observation.valueQuantity, value: 99 } },
    });
    expect(during.addRecord.anchor.status).toBe('PENDING');
    // Give the queue time to try and fail at least once against the stopped chain.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await test.node.anchorQueue.pendingCount()).toBe(1);

    await chain.restart();
    await test.node.anchorQueue.drained();
    expect(
      (await patient.client.request<Proof>(VERIFY_RECORD, { id: during.addRecord.id })).verifyRecord.verified,
    ).toBe(true);

    const node = await test.restart();
    const client = new OmnichartClient(node.url);
    client.token = patient.client.token;
    for (const { id, value } of [
      { id: before.addRecord.id, value: 64 },
      { id: during.addRecord.id, value: 99 },
    ]) {
      const { record } = await client.request<Read>(READ_RECORD, { id });
      expect(record.anchor.status).toBe('ANCHORED');
      expect((record.resource as typeof observation).valueQuantity.value).toBe(value);
      expect((await client.request<Proof>(VERIFY_RECORD, { id })).verifyRecord.verified).toBe(true);
    }
  });
});
