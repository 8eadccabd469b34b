import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { ADD_RECORD } from '../../examples/client.js';
import { grant } from '../helpers/consent.js';
import { requestQueriesDuring } from '../helpers/request-queries.js';
import { stopTestDatabaseServer } from '../helpers/test-database.js';
import { waitFor } from '../helpers/wait-for.js';
import { signIn, startTestNode, type SignedInUser, type TestNode } from '../helpers/test-node.js';

type Extensions = { code?: string; reason?: string; limit?: number };
type Body = { data?: unknown; errors?: { message: string; path?: unknown[]; extensions?: Extensions }[] };

const RECORDS = 8;
const CAP = 5;

function observation(i: number) {
  return {
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
    effectiveDateTime: `2024-01-${String(i + 1).padStart(2, '0')}T08:00:00Z`,
    valueQuantity: { value: 60 + i, unit: '/min' },
  };
}

describe('GraphQL cost limits and the decryption cap, on a real node', () => {
  let test: TestNode;
  let patient: SignedInUser;
  let doctor: SignedInUser;
  /** Calls that do the work a refused document must not reach. */
  const work = { timelines: 0, decryptions: 0 };

  beforeAll(async () => {
    test = await startTestNode({ limits: { maxDecryptionsPerOperation: CAP } });
    patient = await signIn(test, 'PATIENT');
    doctor = await signIn(test, 'PRACTITIONER');
    for (let i = 0; i < RECORDS; i += 1) {
      await patient.client.request(ADD_RECORD, { patient: patient.address, resource: observation(i) });
    }
    const granted = await grant(patient.client, {
      patient: patient.identity,
      grantee: doctor.address,
      scopes: ['patient/*.rs'],
      expiresAt: new Date(Date.now() + 3_600_000),
    });
    expect(granted.errors).toBeUndefined();
    // Count, on the services the resolvers use, the timeline pages served and the envelopes opened.
    const { records, chart } = test.node.services;
    const readResources = records.readResources.bind(records);
    records.readResources = async (list, budget) => {
      const resources = await readResources(list, budget);
      work.decryptions += resources.length;
      return resources;
    };
    const timeline = chart.timeline.bind(chart);
    chart.timeline = (...args) => {
      work.timelines += 1;
      return timeline(...args);
    };
  });

  afterAll(async () => {
    await test?.close();
    await stopTestDatabaseServer();
  });

  async function post(client: SignedInUser, query: string, variables: Record<string, unknown> = {}) {
    const response = await fetch(test.node.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json',
        authorization: `Bearer ${client.client.token}`,
      },
      body: JSON.stringify({ query, variables }),
    });
    return { status: response.status, body: (await response.json()) as Body };
  }

  const auditEntries = async () =>
    Number(
      (
        await test.node.database.dataSource.query(
          'SELECT count(*) AS n FROM audit_entry WHERE patient = $1',
          [patient.address.toLowerCase()],
        )
      )[0].n,
    );

  /** A refusal before any work: 400, validation codes only, no data, nothing read or audited. */
  async function expectRefusedBeforeWork(query: string, reason: string) {
    const before = { ...work, audit: await auditEntries() };
    const { status, body } = await post(doctor, query, { p: patient.address });
    expect(status).toBe(400);
    expect(body.data).toBeUndefined();
    expect(body.errors?.every((e) => e.extensions?.code === 'GRAPHQL_VALIDATION_FAILED')).toBe(true);
    expect(body.errors?.map((e) => e.extensions?.reason)).toContain(reason);
    expect({ ...work, audit: await auditEntries() }).toEqual(before);
  }

  it('the doctor reading a page does the work the refusals below must not do', async () => {
    const before = { ...work, audit: await auditEntries() };
    const { status, body } = await post(
      doctor,
      'query ($p: String!) { phr(patient: $p) { timeline(first: 3) { edges { node { resource } } } } }',
      { p: patient.address },
    );
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(work.timelines).toBe(before.timelines + 1);
    expect(work.decryptions).toBe(before.decryptions + 3);
    expect(await auditEntries()).toBeGreaterThan(before.audit);
  });

  it('refuses 60 root fields hidden in an inline fragment', async () => {
    const hidden = Array.from({ length: 60 }, (_, i) => `m${i}: me { address }`).join(' ');
    await expectRefusedBeforeWork(`{ ... on Query { ${hidden} } }`, 'TOO_MANY_ALIASES');
  });

  it('refuses 150 aliased timeline(first: 500) pages for their cost, before reading anything', async () => {
    const pages = Array.from(
      { length: 150 },
      (_, i) => `t${i}: phr(patient: $p) { timeline(first: 500) { edges { node { resource } } } }`,
    ).join(' ');
    await expectRefusedBeforeWork(`query ($p: String!) { ${pages} }`, 'QUERY_TOO_COSTLY');
  });

  it('refuses the same through named fragments, and one page whose records each carry their history', async () => {
    const spreads = Array.from({ length: 150 }, (_, i) => `t${i}: phr(patient: $p) { ...Page }`).join(' ');
    await expectRefusedBeforeWork(
      `query ($p: String!) { ${spreads} } fragment Page on PatientChart { timeline(first: 500) { edges { node { resource } } } }`,
      'QUERY_TOO_COSTLY',
    );
    // No alias at all: 500 records × (their history, charged a default page of 50 versions).
    await expectRefusedBeforeWork(
      `query ($p: String!) { phr(patient: $p) { ...Page } } fragment Page on PatientChart {
        timeline(first: 500) { edges { node { resource history { version cid author createdAt authorVerified } } } } }`,
      'QUERY_TOO_COSTLY',
    );
  });

  it('caps the records one operation decrypts, even when the document is cheap enough', async () => {
    const page = (first: number) =>
      `query ($p: String!) { phr(patient: $p) { timeline(first: ${first}) { edges { node { id resource } } } } }`;
    const within = await post(patient, page(CAP), { p: patient.address });
    expect(within.body.errors).toBeUndefined();
    const served = (within.body.data as { phr: { timeline: { edges: { node: { resource: unknown } }[] } } })
      .phr.timeline.edges;
    expect(served.map((e) => e.node.resource)).toEqual(
      Array.from({ length: CAP }, (_, i) => expect.objectContaining(observation(RECORDS - 1 - i))),
    );

    const before = work.decryptions;
    const over = await post(patient, page(RECORDS), { p: patient.address });
    expect(over.body.errors?.length).toBeGreaterThan(0);
    for (const error of over.body.errors ?? []) {
      expect(error.extensions).toEqual({
        code: 'BAD_USER_INPUT',
        reason: 'TOO_MANY_DECRYPTIONS',
        limit: CAP,
      });
    }
    // The whole page is one batch: it is refused before a single envelope is opened.
    expect(work.decryptions).toBe(before);
  });

  it('serves a page of records with their versions in the same number of queries whatever its size', async () => {
    const page = `query ($p: String!, $first: Int!) { phr(patient: $p) { timeline(first: $first) {
      edges { node { id cid authorVerified anchor { status } history { version cid author } } } } } }`;
    type Page = {
      phr: { timeline: { edges: { node: { anchor: { status: string }; history: unknown[] } }[] } };
    };
    // Anchoring writes record_version rows in the background: let it finish before counting.
    await waitFor(async () => {
      const { phr } = await patient.client.request<Page>(page, { p: patient.address, first: RECORDS });
      return phr.timeline.edges.every((e) => e.node.anchor.status === 'ANCHORED');
    }, 30_000);

    const versionQueries = async (first: number) =>
      (
        await requestQueriesDuring(async () => {
          const { phr } = await patient.client.request<Page>(page, { p: patient.address, first });
          expect(phr.timeline.edges).toHaveLength(first);
          expect(phr.timeline.edges.every((e) => e.node.history.length === 1)).toBe(true);
        }, /\brecord_version\b/)
      ).length;
    const small = await versionQueries(2);
    const large = await versionQueries(RECORDS);
    // One query for the current versions (cid, anchor, authorVerified), one for every history.
    expect(small).toBe(2);
    expect(large).toBe(small);
  });

  it("a subscription's loaders serve each new version of a record its whole history", async () => {
    const client = createClient({
      url: test.node.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${patient.client.token}` },
      retryAttempts: 0,
    });
    const events = client.iterate<{ recordAdded: { version: number; history: { version: number }[] } }>({
      query: 'subscription ($p: String!) { recordAdded(patient: $p) { version history { version } } }',
      variables: { p: patient.address },
    });
    const next = async () => (await events.next()).value?.data?.recordAdded;
    const write = (value: number) =>
      patient.client.request(ADD_RECORD, {
        patient: patient.address,
        resource: { ...observation(20), id: 'pulse-versions', valueQuantity: { value, unit: '/min' } },
      });
    const pending = next();
    await waitFor(() => test.node.services.records.events.subscriberCount === 1, 30_000);
    await write(70);
    expect(await pending).toEqual({ version: 1, history: [{ version: 1 }] });
    await write(71);
    expect(await next()).toEqual({ version: 2, history: [{ version: 2 }, { version: 1 }] });
    await events.return?.();
    await client.dispose();
  });
});
