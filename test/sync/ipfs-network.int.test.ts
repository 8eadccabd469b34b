import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import {
  ADD_RECORD,
  OmnichartClient,
  READ_RECORD,
  login,
  newIdentity,
  register,
} from '../../examples/client.js';
import { startIpfsNodes } from '../helpers/ipfs-nodes.js';
import { stopTestDatabaseServer } from '../helpers/test-database.js';
import type { TestNode } from '../helpers/test-node.js';
import { eventually } from '../helpers/wait-for.js';

const observation = {
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
  effectiveDateTime: '2026-12-01T08:00:00Z',
  valueQuantity: { value: 64, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
};

const baseOf = (node: TestNode) => node.node.url.replace(/\/graphql$/, '');

describe('three nodes sharing blocks over libp2p only (no HTTP peers)', () => {
  let nodes: TestNode[];

  beforeAll(async () => {
    nodes = await startIpfsNodes(3);
  });

  afterAll(async () => {
    for (const node of [...(nodes ?? [])].reverse()) await node.close();
    await stopTestDatabaseServer();
  });

  it('has no HTTP peers anywhere, and each node its own peer id, shown by GET /node', async () => {
    const ids = new Set<string>();
    for (const node of nodes) {
      expect(node.config.peers).toEqual([]);
      const info = (await (await fetch(`${baseOf(node)}/node`)).json()) as {
        peerId: string;
        ipfsAddresses: string[];
      };
      expect(info.peerId).toMatch(/^12D3KooW/);
      expect(info.ipfsAddresses[0]).toMatch(new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${info.peerId}$`));
      ids.add(info.peerId);
    }
    expect(ids.size).toBe(3);
  });

  it('makes a record written at A readable at B and C, and fires recordAdded at C', async () => {
    const [a, b, c] = nodes;
    const patient = newIdentity();
    const atA = new OmnichartClient(a.node.url);
    await register(atA, patient, 'PATIENT', 'Patient Over IPFS');
    await login(atA, patient);
    const clients: OmnichartClient[] = [];
    for (const node of [b, c]) {
      await eventually(
        async () =>
          (await node.node.services.accounts.find(patient.wallet.address.toLowerCase())) ? true : undefined,
        'the account to reach every node',
      );
      const client = new OmnichartClient(node.node.url);
      await login(client, patient);
      clients.push(client);
    }
    const ws = createClient({
      url: c.node.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${clients[1].token}` },
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
      async () => (c.node.services.records.events.subscriberCount > 0 ? true : undefined),
      'the subscription at C',
    );

    const { addRecord } = await atA.request<{ addRecord: { id: string; cid: string } }>(ADD_RECORD, {
      patient: patient.wallet.address,
      resource: observation,
    });
    const live = await arrived;
    await ws.dispose();
    expect(live).toEqual({ id: addRecord.id, resource: observation });
    for (const client of clients) {
      const record = await eventually(async () => {
        const response = await client.send<{ record: { resource: unknown } | null }>(READ_RECORD, {
          id: addRecord.id,
        });
        return response.data?.record ?? undefined;
      }, 'the record at another node');
      expect(record.resource).toEqual(observation);
    }
  });

  it('never fetches for a gateway caller: a CID held only at B is 404 at A, though A is connected to B', async () => {
    const [a, b] = nodes;
    const onlyAtB = await b.node.content.put(new TextEncoder().encode(`held at B only ${Date.now()}`));
    for (const query of ['?format=raw', '?format=car', '']) {
      const response = await fetch(`${baseOf(a)}/ipfs/${onlyAtB}${query}`);
      expect(response.status).toBe(404);
    }
    expect(await a.node.content.has(onlyAtB)).toBe(false);
    // B's own gateway serves it, and A can still fetch it by bitswap for its own reads.
    expect((await fetch(`${baseOf(b)}/ipfs/${onlyAtB}?format=raw`)).status).toBe(200);
    await a.node.content.get(onlyAtB);
    expect(await a.node.content.has(onlyAtB)).toBe(true);
  });

  it('keeps B’s peer id across a restart, and B joins A again', async () => {
    const [a, b] = nodes;
    const before = b.node.content.peerId;
    await b.restart();
    expect(b.node.content.peerId).toBe(before);
    const info = (await (await fetch(`${baseOf(b)}/node`)).json()) as { peerId: string };
    expect(info.peerId).toBe(before);
    const fresh = await a.node.content.put(
      new TextEncoder().encode(`written after B restarted ${Date.now()}`),
    );
    const bytes = await eventually(
      () => b.node.content.get(fresh).catch(() => undefined),
      'B to fetch from A again',
    );
    expect(new TextDecoder().decode(bytes)).toMatch(/^written after B restarted/);
  });
});
