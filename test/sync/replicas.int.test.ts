import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { JsonRpcProvider } from 'ethers';
import { createClient, type Client } from 'graphql-ws';
import pg from 'pg';
import WebSocket from 'ws';
import {
  ADD_RECORD,
  OmnichartClient,
  READ_RECORD,
  grantAccess,
  login,
  newIdentity,
  register,
  revokeAccess,
} from '../../examples/client.js';
import { RECORD_ANCHORED_TOPIC, decodeRecordAnchoredLog } from '../../src/ledger/anchor-codec.js';
import { nodeInfo, startReplicas, type Replicas } from '../helpers/replicas.js';
import { stopTestDatabaseServer } from '../helpers/test-database.js';
import { eventually } from '../helpers/wait-for.js';

const observation = (value: number) => ({
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
  effectiveDateTime: '2026-12-01T08:00:00Z',
  valueQuantity: { value, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
});
const condition = {
  resourceType: 'Condition',
  clinicalStatus: {
    coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }],
  },
  code: { coding: [{ system: 'http://snomed.info/sct', code: '38341003', display: 'Hypertension' }] },
  subject: { reference: 'Patient/example' },
};

interface Added {
  id: string;
  resource: unknown;
}

/** A graphql-ws subscriber of recordAdded(patient) at `url`, collecting what arrives. */
function subscribe(
  url: string,
  token: string,
  patient: string,
): { client: Client; arrived: Added[]; errors: unknown[] } {
  const client = createClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
  const arrived: Added[] = [];
  const errors: unknown[] = [];
  client.subscribe<{ recordAdded: Added }>(
    {
      query: `subscription ($p: String!) { recordAdded(patient: $p) { id resource } }`,
      variables: { p: patient },
    },
    {
      next: ({ data, errors: failed }) =>
        failed ? errors.push(...failed) : data && arrived.push(data.recordAdded),
      error: (error) => errors.push(error),
      complete: () => undefined,
    },
  );
  return { client, arrived, errors };
}

async function sql<T extends pg.QueryResultRow>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

const appliedCursor = async (url: string) =>
  (
    await sql<{ block_number: number }>(
      url,
      `SELECT block_number FROM chain_cursor WHERE name = 'contract-events'`,
    )
  )[0]?.block_number ?? -1;

describe('replicas of one node on one database', () => {
  let replicas: Replicas;
  let provider: JsonRpcProvider;
  const patient = newIdentity();
  const atA = () => Object.assign(new OmnichartClient(replicas.nodes[0].url), { token: tokens[0] });
  const atB = () => Object.assign(new OmnichartClient(replicas.nodes[1].url), { token: tokens[1] });
  const tokens: string[] = [];

  beforeAll(async () => {
    replicas = await startReplicas(2);
    provider = new JsonRpcProvider(replicas.anvil.rpcUrl, undefined, { staticNetwork: true });
    const a = new OmnichartClient(replicas.nodes[0].url);
    await register(a, patient, 'PATIENT', 'Replicated Patient');
    tokens[0] = await login(a, patient);
    // One database: the account and sessions are at every replica at once.
    tokens[1] = await login(new OmnichartClient(replicas.nodes[1].url), patient);
  }, 180_000);

  afterAll(async () => {
    provider?.destroy();
    await replicas?.close();
    await stopTestDatabaseServer();
  });

  it('elects one leader; the follower says so in /node, /readyz and /metrics, and reads the shared cursor', async () => {
    expect((await nodeInfo(replicas.base(0))).role).toBe('leader');
    expect((await nodeInfo(replicas.base(1))).role).toBe('follower');
    const metricsB = await (await fetch(`${replicas.base(1)}/metrics`)).text();
    expect(metricsB).toMatch(/^omnichart_replica_leader 0$/m);
    expect(await (await fetch(`${replicas.base(0)}/metrics`)).text()).toMatch(
      /^omnichart_replica_leader 1$/m,
    );
    const ready = await eventually(async () => {
      const body = (await (await fetch(`${replicas.base(1)}/readyz`)).json()) as {
        ready: boolean;
        role: string;
        indexer: { cursor: number };
      };
      return body.ready ? body : undefined;
    }, 'the follower to be ready');
    expect(ready.role).toBe('follower');
    // The follower's indexer figures are the leader's progress, read from Postgres.
    const applied = await appliedCursor(replicas.databaseUrl);
    expect(Math.abs(ready.indexer.cursor - applied)).toBeLessThanOrEqual(2);
  });

  it('delivers a write made at replica A to a subscriber at replica B, fetched over bitswap and decrypted', async () => {
    const { client, arrived } = subscribe(replicas.nodes[1].url, tokens[1], patient.wallet.address);
    try {
      const written = new Map<string, unknown>();
      // Until the subscription is registered a write may come too early: write until one arrives.
      await eventually(
        async () => {
          const resource = observation(60 + written.size);
          const { addRecord } = await atA().request<{ addRecord: { id: string } }>(ADD_RECORD, {
            patient: patient.wallet.address,
            resource,
          });
          written.set(addRecord.id, resource);
          await new Promise((resolve) => setTimeout(resolve, 500));
          return arrived.length > 0 ? true : undefined;
        },
        'a record written at A to arrive at B',
        20_000,
      );
      const [first] = arrived;
      expect(written.has(first.id)).toBe(true);
      expect(first.resource).toEqual(written.get(first.id));
      // Delivered once: B heard A's notice, A did not echo its own.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(new Set(arrived.map((r) => r.id)).size).toBe(arrived.length);
    } finally {
      await client.dispose();
    }
  });

  it('re-reads and re-checks what a notice names: forged ones for other charts or after a revocation are not delivered', async () => {
    const grantee = newIdentity();
    const granteeClient = new OmnichartClient(replicas.nodes[1].url);
    await register(granteeClient, grantee, 'PRACTITIONER', 'Replica Grantee');
    await login(granteeClient, grantee);
    const granted = await grantAccess(atA(), {
      patient,
      grantee: grantee.wallet.address,
      scopes: ['patient/*.rs'],
      expiresAt: new Date(Date.now() + 3600_000),
    });
    expect(granted.errors).toBeUndefined();
    // Another patient's record, which the grantee may not read.
    const other = newIdentity();
    const atOther = new OmnichartClient(replicas.nodes[0].url);
    await register(atOther, other, 'PATIENT', 'Other Patient');
    await login(atOther, other);
    const { addRecord: foreign } = await atOther.request<{ addRecord: { id: string; version: number } }>(
      ADD_RECORD,
      { patient: other.wallet.address, resource: condition },
    );
    const { addRecord: obs } = await atA().request<{ addRecord: { id: string; version: number } }>(
      ADD_RECORD,
      {
        patient: patient.wallet.address,
        resource: observation(99),
      },
    );
    const { client, arrived, errors } = subscribe(
      replicas.nodes[1].url,
      granteeClient.token!,
      patient.wallet.address,
    );
    try {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(errors).toEqual([]);
      arrived.length = 0;
      // Anyone with database access can NOTIFY; a notice holds ids, and B re-reads and re-checks each.
      const forge = (id: string, version: number) =>
        sql(replicas.databaseUrl, `SELECT pg_notify('omnichart_records', $1)`, [`forged|${id}:${version}`]);
      await forge(foreign.id, foreign.version);
      await forge('not-a-record-id', 1);
      await forge(obs.id, obs.version + 1); // a version that does not exist
      await forge(obs.id, obs.version);
      await eventually(async () => (arrived.length > 0 ? true : undefined), 'the permitted record', 10_000);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(arrived.map((r) => r.id)).toEqual([obs.id]);
      // The content is what was written (re-read and decrypted at B), not anything from the notice.
      expect(arrived[0].resource).toEqual(observation(99));

      // Revoked at replica A: the same notice at B is no longer delivered.
      const revoked = await revokeAccess(atA(), patient, granted.data!.grantAccess.id);
      expect(revoked.errors).toBeUndefined();
      await forge(obs.id, obs.version);
      await new Promise((resolve) => setTimeout(resolve, 2000));
      expect(arrived.map((r) => r.id)).toEqual([obs.id]);
      expect(errors).toEqual([]);
    } finally {
      await client.dispose();
    }
  });

  it('anchors every record exactly once under concurrent writes at both replicas', async () => {
    const writes = Array.from({ length: 40 }, (_, i) =>
      (i % 2 === 0 ? atA() : atB()).request<{ addRecord: { id: string; version: number } }>(ADD_RECORD, {
        patient: patient.wallet.address,
        resource: observation(100 + i),
      }),
    );
    const ids = (await Promise.all(writes)).map((r) => r.addRecord.id);
    await eventually(
      async () =>
        Number(
          (await sql<{ n: string }>(replicas.databaseUrl, 'SELECT count(*) AS n FROM anchor_outbox'))[0].n,
        ) === 0
          ? true
          : undefined,
      'the outbox to drain',
      60_000,
    );
    const logs = await provider.getLogs({
      address: replicas.contractAddress,
      topics: [RECORD_ANCHORED_TOPIC],
      fromBlock: 0,
      toBlock: 'latest',
    });
    const anchored = logs.map((log) => decodeRecordAnchoredLog(log));
    const counts = new Map<string, number>();
    for (const event of anchored) counts.set(event.recordId, (counts.get(event.recordId) ?? 0) + 1);
    for (const id of ids) expect([id, counts.get(id)]).toEqual([id, 1]);
    // Every anchor on chain is of a distinct version: none of the earlier records went twice either.
    expect(new Set(anchored.map((e) => `${e.recordId}:${e.version}`)).size).toBe(anchored.length);
    const { record } = await atB().request<{ record: { anchor: { status: string } } }>(READ_RECORD, {
      id: ids[0],
    });
    expect(record.anchor.status).toBe('ANCHORED');
  });

  it('leaves indexing to the leader alone, and hands it to the other replica within seconds of kill -9', async () => {
    // Freeze the leader (its lock stays held): chain activity from B is not indexed by B.
    replicas.nodes[0].child.kill('SIGSTOP');
    try {
      const before = await appliedCursor(replicas.databaseUrl);
      await atB().request(ADD_RECORD, { patient: patient.wallet.address, resource: observation(150) });
      await eventually(
        async () => ((await provider.getBlockNumber()) > before ? true : undefined),
        'B to anchor a block',
      );
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(await appliedCursor(replicas.databaseUrl)).toBe(before);
      expect((await nodeInfo(replicas.base(1))).role).toBe('follower');
    } finally {
      replicas.nodes[0].child.kill('SIGCONT');
    }
    const killedAt = Date.now();
    await replicas.kill(0);
    await eventually(
      async () => ((await nodeInfo(replicas.base(1))).role === 'leader' ? true : undefined),
      'B to take the lead',
      10_000,
    );
    const head = await provider.getBlockNumber();
    await eventually(
      async () => ((await appliedCursor(replicas.databaseUrl)) >= head ? true : undefined),
      'B to index up to the head',
      10_000,
    );
    const handover = (Date.now() - killedAt) / 1000;
    expect(handover).toBeLessThan(10);
    // B now indexes what happens next, too.
    await atB().request(ADD_RECORD, { patient: patient.wallet.address, resource: observation(151) });
    await eventually(async () => {
      const h = await provider.getBlockNumber();
      return h > head && (await appliedCursor(replicas.databaseUrl)) >= h ? true : undefined;
    }, 'B to index its own anchor');
    expect(replicas.nodes[1].log()).toMatch(/this replica is the leader/);
  });

  it('refuses to start a replica whose node keys differ from the ones its relayer published', async () => {
    const other = path.join(os.tmpdir(), `omnichart-replicas-other-keys-${process.pid}.json`);
    try {
      await expect(replicas.startAnother({ OMNICHART_NODE_KEYS_FILE: other })).rejects.toThrow(
        /REPLICA_KEY_MISMATCH|another box key for relayer/,
      );
    } finally {
      await rm(other, { force: true });
    }
  });
});
