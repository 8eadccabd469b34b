import { createClient, type Client } from 'graphql-ws';
import { CID } from 'multiformats/cid';
import WebSocket from 'ws';
import {
  ADD_RECORD,
  OmnichartClient,
  addSignedRecord,
  login,
  newIdentity,
  register,
  type Identity,
} from '../../examples/client.js';
import { openPayload } from '../../src/records/sealed-payload.js';
import { AccessAlertEntity, AuditEntryEntity } from '../../src/storage/entities/index.js';
import { grant, signTypedData } from '../helpers/consent.js';
import { stopTestDatabaseServer } from '../helpers/test-database.js';
import { signIn, type TestNode } from '../helpers/test-node.js';
import { startTwoNodes } from '../helpers/two-nodes.js';
import { IMPORT_BUNDLE, RECORD_ADDED } from './chart-documents.js';
import { eventually } from '../helpers/wait-for.js';

/*
 * Every path that creates a record version (addRecord, importBundle, key rotation, adoption at a
 * peer) goes through the one record writer: the versions it makes carry the same fields, and a live
 * subscriber hears of each one. And a write is audited once, however many types it touches.
 */

const heartRate = (id: string, value: number) => ({
  resourceType: 'Observation',
  id,
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
  effectiveDateTime: '2026-11-28T08:00:00Z',
  valueQuantity: { value, unit: 'beats/minute', system: 'http://unitsofmeasure.org', code: '/min' },
});
const condition = (id: string) => ({
  resourceType: 'Condition',
  id,
  subject: { reference: 'Patient/p1' },
  code: { text: 'asthma' },
});
const procedure = (id: string) => ({
  resourceType: 'Procedure',
  id,
  status: 'completed',
  subject: { reference: 'Patient/p1' },
  code: { text: 'spirometry' },
});
const bundleOf = (...resources: { id: string }[]) => ({
  resourceType: 'Bundle',
  type: 'collection',
  entry: resources.map((resource, i) => ({
    fullUrl: `urn:uuid:0f3c3b5e-8f43-4d4e-9a55-3a0d2d1c01${String(i).padStart(2, '0')}`,
    resource,
  })),
});

type Added = { id: string; version: number; resourceType: string; fullUrl: string | null };

/** A live graphql-ws subscriber of one chart, collecting what arrives. */
function subscribe(test: TestNode, token: string, patient: string): { client: Client; events: Added[] } {
  const client = createClient({
    url: test.node.url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
  const events: Added[] = [];
  client.subscribe<{ recordAdded: Added }>(
    { query: RECORD_ADDED, variables: { patient } },
    {
      next: ({ data }) => events.push(data!.recordAdded),
      error: (error) =>
        events.push({ id: `error: ${JSON.stringify(error)}`, version: 0, resourceType: '', fullUrl: null }),
      complete: () => undefined,
    },
  );
  return { client, events };
}

/** A version as one node stores it, and what its envelope says (opened with that node's key). */
async function storedVersion(test: TestNode, recordId: string, version: number) {
  const [row] = await test.node.database.dataSource.query(
    `SELECT v.cid, v.envelope_bytes, v.author, v.content_hmac, v.previous_cid, v.author_verified,
            v.anchor_tx, v.anchor_block, v.anchored_at, r.source_key, r.full_url, r.author AS record_author
       FROM record_version v JOIN record r ON r.id = v.record_id
      WHERE v.record_id = $1 AND v.version = $2`,
    [recordId, version],
  );
  if (!row) return undefined;
  const envelope = await test.node.content.get(CID.parse(row.cid));
  const payload = openPayload(envelope, test.node.keys.boxSecretKey);
  const filled = (object: Record<string, unknown>) =>
    Object.keys(object)
      .filter((key) => object[key] !== null && object[key] !== undefined)
      .sort();
  return {
    row,
    payload,
    columns: filled(row),
    sealed: filled(payload as unknown as Record<string, unknown>),
  };
}

describe('one record writer: every write path', () => {
  let a: TestNode;
  let b: TestNode;

  beforeAll(async () => {
    ({ a, b } = await startTwoNodes());
  }, 120_000);

  afterAll(async () => {
    await b?.close();
    await a?.close();
    await stopTestDatabaseServer();
  });

  it('add, import, re-seal and adopt make versions with the same fields, and each fires recordAdded', async () => {
    const patient = newIdentity();
    const address = patient.wallet.address.toLowerCase();
    const atA = new OmnichartClient(a.node.url);
    await register(atA, patient, 'PATIENT', 'Writer Patient');
    await login(atA, patient);
    await eventually(
      async () => ((await b.node.services.accounts.find(address)) ? true : undefined),
      'node B to adopt the account',
    );
    const atB = new OmnichartClient(b.node.url);
    await login(atB, patient);
    const liveA = subscribe(a, atA.token!, patient.wallet.address);
    const liveB = subscribe(b, atB.token!, patient.wallet.address);
    await eventually(
      async () =>
        a.node.services.records.events.subscriberCount > 0 &&
        b.node.services.records.events.subscriberCount > 0
          ? true
          : undefined,
      'both subscriptions',
    );

    // addRecord (unsigned and signed) and importBundle, all by the patient at node A.
    const added = (
      await atA.request<{ addRecord: { id: string } }>(ADD_RECORD, {
        patient: patient.wallet.address,
        resource: heartRate('hr-added', 70),
      })
    ).addRecord.id;
    const signed = await addSignedRecord(atA, patient, patient.wallet.address, heartRate('hr-signed', 71));
    expect(signed.errors).toBeUndefined();
    const signedId = signed.data!.addRecord.id;
    const bundle = bundleOf(heartRate('hr-imported', 72), condition('asthma-1'));
    const imported = (
      await atA.request<{ importBundle: { written: boolean; entries: { recordId: string }[] } }>(
        IMPORT_BUNDLE,
        {
          patient: patient.wallet.address,
          bundle,
        },
      )
    ).importBundle;
    expect(imported.written).toBe(true);
    const [importedObs, importedCondition] = imported.entries.map((e) => e.recordId);

    // A grant for Observations shares their keys; revoking it with reseal re-seals exactly those.
    const leaving = await signIn(a, 'PRACTITIONER');
    const granted = await grant(atA, {
      patient,
      grantee: leaving.address,
      scopes: ['patient/Observation.rs'],
      expiresAt: new Date(Date.now() + 3_600_000),
    });
    expect(granted.errors).toBeUndefined();
    const grantId = granted.data!.grantAccess.id;
    const { revokeTypedData } = await atA.request<{ revokeTypedData: unknown }>(
      `query ($g: ID!) { revokeTypedData(grantId: $g) }`,
      { g: grantId },
    );
    const revoked = await atA.request<{ revokeAccess: { resealedRecords: number } }>(
      `mutation ($g: ID!, $s: String!) { revokeAccess(grantId: $g, signature: $s, reseal: true) { resealedRecords } }`,
      { g: grantId, s: await signTypedData(patient, revokeTypedData) },
    );
    expect(revoked.revokeAccess.resealedRecords).toBe(3);

    type Kind = {
      recordId: string;
      version: number;
      sourceKey: string;
      fullUrl: string | null;
      signed: boolean;
    };
    const versions: Kind[] = [
      { recordId: added, version: 1, sourceKey: 'hr-added', fullUrl: null, signed: false },
      { recordId: signedId, version: 1, sourceKey: 'hr-signed', fullUrl: null, signed: true },
      {
        recordId: importedObs,
        version: 1,
        sourceKey: 'hr-imported',
        fullUrl: bundle.entry[0].fullUrl,
        signed: false,
      },
      {
        recordId: importedCondition,
        version: 1,
        sourceKey: 'asthma-1',
        fullUrl: bundle.entry[1].fullUrl,
        signed: false,
      },
      // The re-sealed versions: written by the patient's revocation, unsigned (the signature covered v1).
      { recordId: added, version: 2, sourceKey: 'hr-added', fullUrl: null, signed: false },
      { recordId: signedId, version: 2, sourceKey: 'hr-signed', fullUrl: null, signed: false },
      {
        recordId: importedObs,
        version: 2,
        sourceKey: 'hr-imported',
        fullUrl: bundle.entry[0].fullUrl,
        signed: false,
      },
    ];

    for (const v of versions) {
      // At A once anchored; at B once adopted from the chain event (anchored by definition).
      const home = await eventually(async () => {
        const stored = await storedVersion(a, v.recordId, v.version);
        return stored?.row.anchor_tx ? stored : undefined;
      }, `anchor of ${v.recordId} v${v.version} at A`);
      const peer = await eventually(
        () => storedVersion(b, v.recordId, v.version),
        `adoption of ${v.recordId} v${v.version} at B`,
      );
      const columns = [
        'anchor_block',
        'anchor_tx',
        'anchored_at',
        'author',
        'author_verified',
        'cid',
        'content_hmac',
        'envelope_bytes',
        ...(v.fullUrl ? ['full_url'] : []),
        ...(v.version > 1 ? ['previous_cid'] : []),
        'record_author',
        'source_key',
      ];
      const sealed = [
        'author',
        ...(v.signed ? ['authorSignature'] : []),
        ...(v.fullUrl ? ['fullUrl'] : []),
        'patient',
        ...(v.version > 1 ? ['previousCid'] : []),
        'recordId',
        'resource',
        'sourceKey',
        'version',
        'writtenAt',
      ];
      for (const [node, stored] of [
        ['A', home],
        ['B', peer],
      ] as const) {
        const what = `${node}: ${v.sourceKey} v${v.version}`;
        expect({ what, columns: stored.columns }).toEqual({ what, columns });
        expect({ what, sealed: stored.sealed }).toEqual({ what, sealed });
        expect({ what, ...stored.payload, resource: undefined, authorSignature: undefined }).toMatchObject({
          what,
          author: address,
          sourceKey: v.sourceKey,
          ...(v.fullUrl ? { fullUrl: v.fullUrl } : {}),
          recordId: v.recordId,
          version: v.version,
        });
        expect(stored.row).toMatchObject({
          author: address,
          record_author: address,
          source_key: v.sourceKey,
          full_url: v.fullUrl,
          author_verified: v.signed,
        });
      }
      // The peer holds exactly what the home node wrote and anchored.
      expect(peer.row).toMatchObject({
        cid: home.row.cid,
        envelope_bytes: home.row.envelope_bytes,
        previous_cid: home.row.previous_cid,
        anchor_tx: home.row.anchor_tx,
        anchor_block: home.row.anchor_block,
      });
      if (v.version > 1) {
        expect(home.row.previous_cid).toBe((await storedVersion(a, v.recordId, v.version - 1))!.row.cid);
        expect(home.payload.resource).toEqual(
          (await storedVersion(a, v.recordId, v.version - 1))!.payload.resource,
        );
      }
    }

    // Every version, from every path, reached the live subscriber at both nodes.
    const expected = versions.map((v) => `${v.recordId}:${v.version}`).sort();
    for (const live of [liveA, liveB]) {
      await eventually(
        async () => (live.events.length >= expected.length ? true : undefined),
        `${expected.length} recordAdded events (have ${live.events.map((e) => `${e.id}:${e.version}`).join(', ')})`,
      );
      expect(live.events.map((e) => `${e.id}:${e.version}`).sort()).toEqual(expected);
    }
    await liveA.client.dispose();
    await liveB.client.dispose();
  }, 180_000);

  describe('a write audits once', () => {
    let patient: Identity;
    let owner: OmnichartClient;

    const entriesBy = (actor: string) =>
      a.node.database.dataSource.getRepository(AuditEntryEntity).find({
        where: { patient: patient.wallet.address.toLowerCase(), actor: actor.toLowerCase() },
        order: { seq: 'ASC' },
      });
    const alertsBy = (actor: string) =>
      a.node.database.dataSource
        .getRepository(AccessAlertEntity)
        .count({ where: { patient: patient.wallet.address.toLowerCase(), actor: actor.toLowerCase() } });
    const grantTo = async (grantee: string, scopes: string[]) => {
      const response = await grant(owner, {
        patient,
        grantee,
        scopes,
        expiresAt: new Date(Date.now() + 3_600_000),
      });
      expect(response.errors).toBeUndefined();
    };

    beforeAll(async () => {
      patient = newIdentity();
      owner = new OmnichartClient(a.node.url);
      await register(owner, patient, 'PATIENT', 'Audited Patient');
      await login(owner, patient);
    });

    it('one entry for one addRecord, also when it becomes an update', async () => {
      const writer = await signIn(a, 'ORGANIZATION');
      await grantTo(writer.address, ['patient/*.cruds']);
      const write = (value: number) =>
        writer.client.request(ADD_RECORD, {
          patient: patient.wallet.address,
          resource: heartRate('hr-org', value),
        });

      await write(60);
      let entries = await entriesBy(writer.address);
      expect(entries.map((e) => [e.action, e.resourceType, e.outcome])).toEqual([
        ['create', 'Observation', 'ALLOWED'],
      ]);
      // The same resource changed: a new version, which needs c and u; one entry, named an update.
      await write(61);
      entries = await entriesBy(writer.address);
      expect(entries.map((e) => [e.action, e.resourceType, e.outcome])).toEqual([
        ['create', 'Observation', 'ALLOWED'],
        ['update', 'Observation', 'ALLOWED'],
      ]);
    });

    it('one entry for one importBundle of three types', async () => {
      const writer = await signIn(a, 'ORGANIZATION');
      await grantTo(writer.address, ['patient/*.cruds']);
      const { importBundle } = await writer.client.request<{ importBundle: { created: number } }>(
        IMPORT_BUNDLE,
        {
          patient: patient.wallet.address,
          bundle: bundleOf(heartRate('hr-b', 80), condition('c-b'), procedure('p-b')),
        },
      );
      expect(importBundle.created).toBe(3);
      const entries = await entriesBy(writer.address);
      expect(entries.map((e) => [e.action, e.resourceType, e.outcome])).toEqual([
        ['create', null, 'ALLOWED'],
      ]);
    });

    it('one denied entry and one alert when a Bundle has a type the grant does not cover', async () => {
      const writer = await signIn(a, 'ORGANIZATION');
      await grantTo(writer.address, ['patient/Observation.c']);
      const response = await writer.client.send(IMPORT_BUNDLE, {
        patient: patient.wallet.address,
        bundle: bundleOf(heartRate('hr-d', 90), condition('c-d'), procedure('p-d')),
      });
      expect(response.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const entries = await entriesBy(writer.address);
      expect(entries.map((e) => [e.action, e.resourceType, e.outcome])).toEqual([
        ['create', 'Condition', 'DENIED'],
      ]);
      expect(await alertsBy(writer.address)).toBe(1);
      // Nothing was written.
      const [{ count }] = await a.node.database.dataSource.query(
        `SELECT count(*)::int AS count FROM record WHERE patient = $1 AND author = $2`,
        [patient.wallet.address.toLowerCase(), writer.address.toLowerCase()],
      );
      expect(count).toBe(0);
    });
  });
});
