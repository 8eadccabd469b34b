import { CID } from 'multiformats/cid';
import type { DataSource } from 'typeorm';
import { ADD_RECORD, type OmnichartClient } from '../../examples/client.js';
import { createDataSource } from '../../src/storage/data-source.js';
import { kuboPinner } from '../../src/storage/kubo-pinner.js';
import { PinOutboxStore } from '../../src/storage/pin-outbox-store.js';
import { KuboStandIn } from '../helpers/kubo-stand-in.js';
import { createTestDatabase, stopTestDatabaseServer } from '../helpers/test-database.js';
import { signIn, startTestNode, type TestNode } from '../helpers/test-node.js';
import { waitFor } from '../helpers/wait-for.js';

/** CIDs Kubo's `ipfs add` prints for these bytes (as in helia-content-store.test.ts). */
const HELLO = new TextEncoder().encode('hello world\n');
const HELLO_CID = 'QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o';
/** Bytes i % 251, as in helia-content-store.test.ts. */
const pattern = (n: number) => Uint8Array.from({ length: n }, (_, i) => i % 251);
const THREE_CHUNKS_CID = 'QmWKdZuiD9zqoZFnLYbpV2Q5YhRCJWpqiVeYA8ygYEjcEe';

const observation = (value: number) => ({
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
  valueQuantity: { value, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
});

describe('kuboPinner', () => {
  let kubo: KuboStandIn;
  beforeAll(async () => (kubo = await new KuboStandIn().start()));
  afterAll(() => kubo.stop());

  it.each([
    ['"hello world\\n"', HELLO, HELLO_CID],
    ['600,000 bytes (3 chunks)', pattern(600_000), THREE_CHUNKS_CID],
  ])('pins %s under the CID Kubo computes, with Kubo classic add settings', async (_name, bytes, cid) => {
    await kuboPinner({ apiUrl: kubo.url }).pin(CID.parse(cid), bytes, AbortSignal.timeout(10_000));
    expect(kubo.pinned.get(cid)).toEqual(bytes);
    const call = kubo.calls.at(-1)!;
    expect(call.params.get('cid-version')).toBe('0');
    expect(call.params.get('chunker')).toBe('size-262144');
    expect(call.params.get('raw-leaves')).toBe('false');
    expect(call.params.get('pin')).toBe('true');
  });

  it('sends the configured Authorization header (IPFS Cluster proxies ask for one)', async () => {
    await kuboPinner({ apiUrl: kubo.url, authorization: 'Basic b21uaTpjaGFydA==' }).pin(
      CID.parse(HELLO_CID),
      HELLO,
      AbortSignal.timeout(10_000),
    );
    expect(kubo.calls.at(-1)!.authorization).toBe('Basic b21uaTpjaGFydA==');
  });

  it('fails when the deployment stores the bytes under another CID', async () => {
    kubo.answerWith = THREE_CHUNKS_CID;
    try {
      await expect(
        kuboPinner({ apiUrl: kubo.url }).pin(CID.parse(HELLO_CID), HELLO, AbortSignal.timeout(10_000)),
      ).rejects.toThrow(`Kubo stored the object as ${THREE_CHUNKS_CID}, not ${HELLO_CID}`);
    } finally {
      kubo.answerWith = undefined;
    }
  });

  it('fails when Kubo answers an error', async () => {
    kubo.failing = true;
    try {
      await expect(
        kuboPinner({ apiUrl: kubo.url }).pin(CID.parse(HELLO_CID), HELLO, AbortSignal.timeout(10_000)),
      ).rejects.toThrow('stand-in is failing');
    } finally {
      kubo.failing = false;
    }
  });
});

describe('PinOutboxStore', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let dataSource: DataSource;
  let store: PinOutboxStore;

  beforeAll(async () => {
    database = await createTestDatabase();
    dataSource = createDataSource(database.url);
    await dataSource.initialize();
    await dataSource.runMigrations();
    store = new PinOutboxStore(dataSource);
  });
  afterAll(async () => {
    await dataSource.destroy();
    await database.drop();
    await stopTestDatabaseServer();
  });
  beforeEach(() => dataSource.query('DELETE FROM pin_outbox'));

  it('queues an object once however often it is stored', async () => {
    await store.enqueue(['a', 'b', 'a']);
    await store.enqueue(['b']);
    expect((await store.backlog()).pending).toBe(2);
  });

  it('gives two replicas claiming at once disjoint objects, and deletes only what was pinned', async () => {
    await store.enqueue(['c1', 'c2', 'c3', 'c4']);
    const seen: string[][] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    // The first claim holds its rows locked until the second has claimed.
    const first = store.claimDue(2, async (cids) => {
      seen.push(cids);
      await held;
      return cids.map((cid) => ({ cid, pinned: true as const }));
    });
    await waitFor(() => seen.length === 1);
    const second = store.claimDue(10, async (cids) => {
      seen.push(cids);
      return cids.map((cid) => ({ cid, pinned: false as const, error: 'Kubo is down' }));
    });
    await waitFor(() => seen.length === 2);
    release();
    expect(await Promise.all([first, second])).toEqual([2, 2]);
    expect(seen[0]).toEqual(['c1', 'c2']);
    expect(seen[1]).toEqual(['c3', 'c4']);
    expect((await store.backlog()).pending).toBe(2);
    expect(await store.status('c3')).toEqual({ attempts: 1, lastError: 'Kubo is down' });
    // A failed object waits for its backoff: it is not due again at once.
    expect(await store.claimDue(10, async () => [])).toBe(0);
  });
});

describe('a node with OMNICHART_KUBO_API', () => {
  let kubo: KuboStandIn;
  let test: TestNode;
  let client: OmnichartClient;
  let patient: string;

  beforeAll(async () => {
    kubo = await new KuboStandIn().start();
    test = await startTestNode({ pinning: { kuboApiUrl: kubo.url, intervalMs: 100 } });
    ({ client, address: patient } = await signIn(test));
  });
  afterAll(async () => {
    await test.close();
    await kubo.stop();
  });

  const write = async (value: number) =>
    (
      await client.request<{ addRecord: { cid: string } }>(ADD_RECORD, {
        patient,
        resource: observation(value),
      })
    ).addRecord.cid;

  it('pins every record envelope it writes, byte for byte', async () => {
    const cid = await write(61);
    await waitFor(() => kubo.pinned.has(cid));
    expect(kubo.pinned.get(cid)).toEqual(await test.node.content.get(CID.parse(cid)));
  });

  it('keeps what Kubo could not take, across a restart, and pins it once Kubo is back', async () => {
    kubo.failing = true;
    const cid = await write(62);
    // The write is acknowledged while Kubo is down; the pin waits in the outbox.
    const outbox = new PinOutboxStore(test.node.database.dataSource);
    await waitFor(async () => ((await outbox.status(cid))?.attempts ?? 0) >= 1);
    expect((await outbox.status(cid))?.lastError).toContain('stand-in is failing');
    expect(kubo.pinned.has(cid)).toBe(false);

    await test.restart();
    kubo.failing = false;
    // First retry after the backoff (4 s).
    await waitFor(() => kubo.pinned.has(cid), 20_000);
    await waitFor(
      async () => (await new PinOutboxStore(test.node.database.dataSource).backlog()).pending === 0,
    );
  });

  it('reports the pin queue in /metrics', async () => {
    const metrics = await (await fetch(new URL('/metrics', test.node.url))).text();
    expect(metrics).toMatch(/^omnichart_pin_queue_depth 0$/m);
  });
});
