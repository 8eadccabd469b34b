import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { stopTestDatabaseServer } from '../helpers/test-database.js';
import { signIn, startTestNode, type SignedInUser, type TestNode } from '../helpers/test-node.js';
import { IMPORT_BUNDLE, RECORD_ADDED } from '../records/chart-documents.js';

const fixtures = path.join(import.meta.dirname, '..', 'fixtures', 'fhir');
const readFixture = (name: string) => JSON.parse(readFileSync(path.join(fixtures, name), 'utf8'));
const synthea = readFixture('8a4c9c04-1524-9f1c-d65b-9b17e4520fef.json');

type Added = {
  id: string;
  patient: string;
  resourceType: string;
  version: number;
  fullUrl: string | null;
  resource: unknown;
};
type Next = {
  data?: { recordAdded: Added } | null;
  errors?: { message: string; extensions?: { code?: string } }[];
};

function wsClient(test: TestNode, token?: string): Client {
  return createClient({
    url: test.node.url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
    lazy: true,
  });
}

/** Subscribes and collects events; `ready` resolves once the server has registered the subscriber. */
function collect(client: Client, patient: string) {
  const events: Next[] = [];
  let notify = () => {};
  const dispose = { fn: () => {} };
  const finished = new Promise<void>((resolve, reject) => {
    dispose.fn = client.subscribe<{ recordAdded: Added }>(
      { query: RECORD_ADDED, variables: { patient } },
      {
        next: (value) => {
          events.push(value as Next);
          notify();
        },
        error: (error) => reject(error),
        complete: () => resolve(),
      },
    );
  });
  const until = (count: number, ms = 30_000) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${events.length} of ${count} events`)), ms);
      const check = () => {
        if (events.length >= count) {
          clearTimeout(timer);
          resolve();
        }
      };
      notify = check;
      check();
    });
  return { events, until, finished: () => finished, dispose: () => dispose.fn() };
}

async function waitForSubscribers(test: TestNode, count: number): Promise<void> {
  for (let i = 0; i < 200 && test.node.services.records.events.subscriberCount !== count; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  expect(test.node.services.records.events.subscriberCount).toBe(count);
}

describe('recordAdded over graphql-ws', () => {
  let test: TestNode;
  let patient: SignedInUser;
  let other: SignedInUser;
  const clients: Client[] = [];

  beforeAll(async () => {
    test = await startTestNode();
    patient = await signIn(test, 'PATIENT');
    other = await signIn(test, 'PATIENT');
  });

  afterAll(async () => {
    for (const client of clients) await client.dispose();
    await test?.close();
    await stopTestDatabaseServer();
  });

  it('delivers every record another client imports or adds, with its decrypted resource', async () => {
    const client = wsClient(test, patient.client.token);
    clients.push(client);
    const subscription = collect(client, patient.address);
    await waitForSubscribers(test, 1);

    // Another patient's writes are not delivered to this subscription.
    await other.client.request(IMPORT_BUNDLE, { patient: other.address, bundle: synthea });

    const { importBundle } = await patient.client.request<{
      importBundle: { created: number; entries: { recordId: string; fullUrl: string }[] };
    }>(IMPORT_BUNDLE, { patient: patient.address, bundle: synthea });
    expect(importBundle.created).toBe(66);
    await subscription.until(66);
    const delivered = subscription.events.map((e) => e.data!.recordAdded);
    expect(new Set(delivered.map((r) => r.id))).toEqual(new Set(importBundle.entries.map((e) => e.recordId)));
    for (const record of delivered) {
      expect(record.patient).toBe(patient.address);
      expect(record.version).toBe(1);
      const index = importBundle.entries.findIndex((e) => e.recordId === record.id);
      expect(record.fullUrl).toBe(synthea.entry[index].fullUrl);
      expect(record.resource).toEqual(synthea.entry[index].resource);
    }

    // A re-import writes nothing and announces nothing; a changed resource announces its version 2.
    await patient.client.request(IMPORT_BUNDLE, { patient: patient.address, bundle: synthea });
    const resource = readFixture('Observation-f001.json');
    await patient.client.request(
      `mutation ($patient: String!, $resource: JSON!) { addRecord(patient: $patient, resource: $resource) { id } }`,
      { patient: patient.address, resource },
    );
    await subscription.until(67);
    const changed = { ...resource, status: 'amended' };
    await patient.client.request(
      `mutation ($patient: String!, $resource: JSON!) { addRecord(patient: $patient, resource: $resource) { id } }`,
      { patient: patient.address, resource: changed },
    );
    await subscription.until(68);
    expect(subscription.events).toHaveLength(68);
    expect(subscription.events[66].data!.recordAdded).toMatchObject({
      resourceType: 'Observation',
      version: 1,
    });
    expect(subscription.events[67].data!.recordAdded).toMatchObject({ version: 2, resource: changed });
    subscription.dispose();
    await waitForSubscribers(test, 0);
  });

  it("refuses a subscription to someone else's chart (FORBIDDEN) and an anonymous one (UNAUTHENTICATED)", async () => {
    for (const [token, code] of [
      [other.client.token, 'FORBIDDEN'],
      [undefined, 'UNAUTHENTICATED'],
    ] as const) {
      const client = wsClient(test, token);
      clients.push(client);
      const subscription = collect(client, patient.address);
      await subscription.finished().catch(() => undefined);
      const errors = subscription.events.flatMap((e) => e.errors ?? []);
      expect(errors[0]?.extensions?.code).toBe(code);
    }
    expect(test.node.services.records.events.subscriberCount).toBe(0);
  });
});
