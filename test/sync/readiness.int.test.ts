import { ADD_RECORD, READ_RECORD } from '../../examples/client.js';
import type { EmbeddedLedger } from '../../src/ledger/embedded-chain.js';
import { grant } from '../helpers/consent.js';
import { stopTestDatabaseServer } from '../helpers/test-database.js';
import { signIn, startTestNode, type TestNode } from '../helpers/test-node.js';

const observation = {
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
  valueQuantity: { value: 71, unit: 'beats/minute', system: 'http://unitsofmeasure.org', code: '/min' },
};

describe('readiness, and grant-based access failing closed when the chain is gone', () => {
  let test: TestNode;

  beforeAll(async () => {
    test = await startTestNode({ chain: { indexerIntervalMs: 100, maxIndexerLagSeconds: 2 } });
  });

  afterAll(async () => {
    await test?.close();
    await stopTestDatabaseServer();
  });

  const origin = () => test.node.url.replace(/\/graphql$/, '');
  const readyz = async () => {
    const response = await fetch(`${origin()}/readyz`);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it('answers 200 while healthy, 503 once the chain stops; the patient still reads, a grantee gets SERVICE_UNAVAILABLE', async () => {
    const patient = await signIn(test);
    const practitioner = await signIn(test, 'PRACTITIONER');
    const { addRecord } = await patient.client.request<{ addRecord: { id: string } }>(ADD_RECORD, {
      patient: patient.address,
      resource: observation,
    });
    const granted = await grant(patient.client, {
      patient: patient.identity,
      grantee: practitioner.address,
      scopes: ['patient/Observation.rs'],
      expiresAt: new Date(Date.now() + 3600_000),
    });
    expect(granted.errors).toBeUndefined();
    await expect(practitioner.client.request(READ_RECORD, { id: addRecord.id })).resolves.toMatchObject({
      record: { id: addRecord.id },
    });

    const live = await fetch(`${origin()}/healthz`);
    expect(live.status).toBe(200);
    const healthy = await readyz();
    expect(healthy.status).toBe(200);
    const head = (await test.node.ledger.latestBlock()).number;
    expect(healthy.body).toMatchObject({ ready: true, database: 'ok', chain: 'ok', quarantined: 0 });
    const indexer = healthy.body.indexer as Record<string, number>;
    expect(indexer.head).toBe(head);
    expect(indexer.cursor).toBeGreaterThan(head - 5);
    expect(indexer.lagBlocks).toBe(head - indexer.cursor);
    expect(indexer.lagSeconds).toBeLessThanOrEqual(2);

    await (test.node.ledger as EmbeddedLedger).chain.stop();
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const stale = await readyz();
    expect(stale.status).toBe(503);
    expect(stale.body).toMatchObject({ ready: false, database: 'ok', chain: 'unavailable', quarantined: 0 });
    expect((stale.body.indexer as Record<string, number>).lagSeconds).toBeGreaterThan(2);

    const refused = await practitioner.client.send<{ record: unknown }>(READ_RECORD, { id: addRecord.id });
    expect(refused.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
    expect(refused.errors?.[0]?.message).toMatch(/access through grants is refused/);
    // The patient's own chart does not rest on grants: it still reads.
    await expect(patient.client.request(READ_RECORD, { id: addRecord.id })).resolves.toMatchObject({
      record: { id: addRecord.id, resource: observation },
    });

    await (test.node.ledger as EmbeddedLedger).chain.restart();
    const deadline = Date.now() + 10_000;
    let again = await readyz();
    while (again.status !== 200 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      again = await readyz();
    }
    expect(again.body).toMatchObject({ ready: true, chain: 'ok' });
    await expect(practitioner.client.request(READ_RECORD, { id: addRecord.id })).resolves.toMatchObject({
      record: { id: addRecord.id },
    });
  });
});
