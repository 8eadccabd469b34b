import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { ADD_RECORD, login } from '../../examples/client.js';
import { stopTestDatabaseServer } from '../helpers/test-database.js';
import { signIn, startTestNode, type SignedInUser, type TestNode } from '../helpers/test-node.js';
import { waitFor } from '../helpers/wait-for.js';
import { RECORD_ADDED } from '../records/chart-documents.js';

const fixtures = path.join(import.meta.dirname, '..', 'fixtures', 'fhir');
const observation = JSON.parse(readFileSync(path.join(fixtures, 'Observation-f001.json'), 'utf8'));
const ACCESS_ALERT = `subscription ($patient: String!) { accessAlert(patient: $patient) { kind actor } }`;
const SESSION_TTL_SECONDS = 4;

type FormattedError = { message: string; extensions?: { code?: string } };

/** A live subscription over a real WebSocket: what it delivered and how it ended. */
function watch(test: TestNode, token: string, query: string, patient: string) {
  const client: Client = createClient({
    url: test.node.url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    lazy: true,
  });
  const delivered: unknown[] = [];
  const ending = new Promise<{ how: 'error' | 'complete'; errors?: FormattedError[]; at: number }>(
    (resolve) => {
      client.subscribe(
        { query, variables: { patient } },
        {
          next: (value) => delivered.push(value),
          error: (errors) => resolve({ how: 'error', errors: errors as FormattedError[], at: Date.now() }),
          complete: () => resolve({ how: 'complete', at: Date.now() }),
        },
      );
    },
  );
  return { client, delivered, ending };
}

describe('live subscriptions end with the session', () => {
  let test: TestNode;
  const clients: Client[] = [];
  const subscribers = () => test.node.services.records.events.subscriberCount;

  beforeAll(async () => {
    test = await startTestNode({ auth: { sessionTtlSeconds: SESSION_TTL_SECONDS } });
  });

  afterAll(async () => {
    for (const client of clients) await client.dispose();
    await test?.close();
    await stopTestDatabaseServer();
  });

  const add = (user: SignedInUser, id: string) =>
    user.client.request<{ addRecord: { id: string } }>(ADD_RECORD, {
      patient: user.address,
      resource: { ...observation, id },
    });

  it('logout ends a live recordAdded stream at once with UNAUTHENTICATED; later records are not delivered', async () => {
    const patient = await signIn(test, 'PATIENT');
    const stream = watch(test, patient.client.token!, RECORD_ADDED, patient.address);
    clients.push(stream.client);
    await waitFor(() => subscribers() === 1);
    await add(patient, 'before-logout');
    await waitFor(() => stream.delivered.length === 1);

    // A second client of the same account logs out the stream's session; the writer keeps its own.
    const writer = test.client();
    writer.token = await login(writer, patient.identity);
    const loggedOutAt = Date.now();
    const logout = test.client();
    logout.token = patient.client.token;
    expect(await logout.request(`mutation { logout }`)).toEqual({ logout: true });
    const ending = await stream.ending;
    expect(ending.how).toBe('error');
    expect(ending.errors).toEqual([
      { message: 'session was logged out: log in again', extensions: { code: 'UNAUTHENTICATED' } },
    ]);
    expect(ending.at - loggedOutAt).toBeLessThan(1_000);
    await waitFor(() => subscribers() === 0);

    await writer.request(ADD_RECORD, { patient: patient.address, resource: { ...observation, id: 'after' } });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(stream.delivered).toHaveLength(1);
    expect(
      (stream.delivered[0] as { data: { recordAdded: { resource: { id: string } } } }).data.recordAdded,
    ).toMatchObject({ resource: { id: 'before-logout' } });
  });

  it('a session revoked behind this node (another replica) ends the stream at the next event, undelivered', async () => {
    const patient = await signIn(test, 'PATIENT');
    const stream = watch(test, patient.client.token!, RECORD_ADDED, patient.address);
    clients.push(stream.client);
    await waitFor(() => subscribers() === 1);
    const writer = test.client();
    writer.token = await login(writer, patient.identity);
    await test.node.database.dataSource.query(
      `UPDATE session SET revoked_at = now() WHERE address = $1 AND revoked_at IS NULL AND token_hash <> encode(sha256($2::bytea), 'hex')`,
      [patient.address.toLowerCase(), writer.token],
    );
    await writer.request(ADD_RECORD, {
      patient: patient.address,
      resource: { ...observation, id: 'hidden' },
    });
    const ending = await stream.ending;
    expect(ending.errors).toEqual([
      { message: 'session was revoked: log in again', extensions: { code: 'UNAUTHENTICATED' } },
    ]);
    expect(stream.delivered).toHaveLength(0);
  });

  it('an expired session ends recordAdded and accessAlert streams on time', async () => {
    const before = Date.now();
    const patient = await signIn(test, 'PATIENT');
    const after = Date.now();
    const records = watch(test, patient.client.token!, RECORD_ADDED, patient.address);
    const alerts = watch(test, patient.client.token!, ACCESS_ALERT, patient.address);
    clients.push(records.client, alerts.client);
    await waitFor(
      () =>
        subscribers() === 1 && test.node.services.alerts.listenerCount(patient.address.toLowerCase()) === 1,
    );
    await add(patient, 'while-live');
    await waitFor(() => records.delivered.length === 1);

    for (const stream of [records, alerts]) {
      const ending = await stream.ending;
      expect(ending.errors).toEqual([
        { message: 'session expired: log in again', extensions: { code: 'UNAUTHENTICATED' } },
      ]);
      // Ended by the timer at the session's expiry, not by a later event.
      expect(ending.at).toBeGreaterThanOrEqual(before + SESSION_TTL_SECONDS * 1000);
      expect(ending.at).toBeLessThan(after + SESSION_TTL_SECONDS * 1000 + 1_000);
    }
    await waitFor(() => subscribers() === 0);
    expect(test.node.services.alerts.listenerCount(patient.address.toLowerCase())).toBe(0);
    expect(records.delivered).toHaveLength(1);
  });

  it('a stream closed by the client is released at once, without waiting for an event', async () => {
    const patient = await signIn(test, 'PATIENT');
    const client = createClient({
      url: test.node.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${patient.client.token}` },
      retryAttempts: 0,
      lazy: true,
    });
    clients.push(client);
    const stop = client.subscribe(
      { query: RECORD_ADDED, variables: { patient: patient.address } },
      {
        next: () => {},
        error: () => {},
        complete: () => {},
      },
    );
    await waitFor(() => subscribers() === 1);
    stop();
    await waitFor(() => subscribers() === 0);
  });
});
