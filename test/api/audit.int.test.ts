import { createClient } from 'graphql-ws';
import { CID } from 'multiformats/cid';
import WebSocket from 'ws';
import { ADD_RECORD, READ_RECORD } from '../../examples/client.js';
import type { AuditEntryFields } from '../../src/audit/audit-entry-hash.js';
import { checkAuditProof } from '../../src/audit/audit-proof.js';
import { AuditEntryEntity } from '../../src/storage/entities/index.js';
import { openRecord } from '../../src/storage/envelope.js';
import { grant, revoke, signTypedData } from '../helpers/consent.js';
import { attestUser } from '../helpers/identity.js';
import { stopTestDatabaseServer } from '../helpers/test-database.js';
import { signIn, startTestNode, type SignedInUser, type TestNode } from '../helpers/test-node.js';

const observation = {
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '29463-7', display: 'Body weight' }] },
  effectiveDateTime: '2026-11-21T09:30:00Z',
  valueQuantity: { value: 72.5, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' },
};

const AUDIT_TRAIL = `query ($p: String!, $first: Int, $after: String) {
  auditTrail(patient: $p, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      seq patient actor action resourceType recordId outcome purpose reason at prevHash hash
      batch { root firstSeq lastSeq anchorTx anchorBlock }
      proof { hash position }
    } }
  }
}`;

type EntryNode = AuditEntryFields & {
  hash: string;
  batch: { root: string; anchorBlock: number } | null;
  proof: { hash: string; position: 'LEFT' | 'RIGHT' }[] | null;
};
type Trail = { auditTrail: { totalCount: number; edges: { node: EntryNode }[] } };

describe('consent in action: revocation, grantee keys, break-glass, the audit trail', () => {
  let test: TestNode;
  let patient: SignedInUser;
  let doctor: SignedInUser;

  beforeAll(async () => {
    test = await startTestNode();
    patient = await signIn(test, 'PATIENT');
    doctor = await signIn(test, 'PRACTITIONER');
  });

  afterAll(async () => {
    await test?.close();
    await stopTestDatabaseServer();
  });

  it('a revoked grantee is refused on the very next read', async () => {
    const { addRecord } = await patient.client.request<{ addRecord: { id: string } }>(ADD_RECORD, {
      patient: patient.address,
      resource: observation,
    });
    const granted = await grant(patient.client, {
      patient: patient.identity,
      grantee: doctor.address,
      scopes: ['patient/Observation.rs'],
      expiresAt: new Date(Date.now() + 3_600_000),
    });
    const grantId = granted.data!.grantAccess.id;
    const read = await doctor.client.request<{ record: { resource: unknown } }>(READ_RECORD, {
      id: addRecord.id,
    });
    expect(read.record.resource).toEqual(observation);
    expect((await revoke(patient.client, patient.identity, grantId)).errors).toBeUndefined();
    const after = await doctor.client.send(READ_RECORD, { id: addRecord.id });
    expect(after.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('applies a revocation relayed elsewhere (seen only on chain) on the very next request', async () => {
    const { addRecord } = await patient.client.request<{ addRecord: { id: string } }>(ADD_RECORD, {
      patient: patient.address,
      resource: observation,
    });
    const pharmacist = await signIn(test, 'ORGANIZATION');
    const granted = await grant(patient.client, {
      patient: patient.identity,
      grantee: pharmacist.address,
      scopes: ['patient/*.rs'],
      expiresAt: new Date(Date.now() + 3_600_000),
    });
    const grantId = granted.data!.grantAccess.id;
    expect((await pharmacist.client.send(READ_RECORD, { id: addRecord.id })).errors).toBeUndefined();
    // Another node relays the patient's revocation: this node's cache learns it only from the chain.
    const typed = await test.node.ledger.revokeTypedData({ patient: patient.address.toLowerCase(), grantId });
    const signature = await signTypedData(patient.identity, typed);
    await test.node.ledger.relayRevoke({ grantId, nonce: typed.message.nonce, signature });
    const after = await pharmacist.client.send(READ_RECORD, { id: addRecord.id });
    expect(after.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('refuses grants signed by another key, replayed, or by the operator', async () => {
    const input = {
      patient: patient.identity,
      grantee: doctor.address,
      scopes: ['patient/*.rs'],
      expiresAt: new Date(Date.now() + 600_000),
    };
    const forged = await grant(doctor.client, { ...input, signer: doctor.identity });
    expect(forged.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    // Replay: the same signed payload relayed twice.
    const typed = await patient.client.request<{ grantTypedData: unknown }>(
      `query ($input: GrantInput!) { grantTypedData(input: $input) }`,
      {
        input: {
          patient: patient.address,
          grantee: doctor.address,
          scopes: ['patient/*.rs'],
          expiresAt: input.expiresAt.toISOString(),
        },
      },
    );
    const signature = await signTypedData(patient.identity, typed.grantTypedData);
    const gql = `mutation ($input: GrantInput!, $signature: String!) { grantAccess(input: $input, signature: $signature) { id } }`;
    const variables = {
      input: {
        patient: patient.address,
        grantee: doctor.address,
        scopes: ['patient/*.rs'],
        expiresAt: input.expiresAt.toISOString(),
      },
      signature,
    };
    expect((await doctor.client.send(gql, variables)).errors).toBeUndefined();
    const replay = await doctor.client.send(gql, variables);
    expect(replay.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    // The operator's relayer key signs a grant for the patient: the contract refuses it too.
    const { Wallet } = await import('ethers');
    const operator = {
      wallet: new Wallet(test.node.keys.relayerPrivateKey),
      boxKeyPair: doctor.identity.boxKeyPair,
    };
    const byOperator = await grant(doctor.client, { ...input, signer: operator as never });
    expect(byOperator.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('lets a grantee decrypt a new record straight from IPFS with its own key', async () => {
    const nurse = await signIn(test, 'PRACTITIONER');
    await grant(patient.client, {
      patient: patient.identity,
      grantee: nurse.address,
      scopes: ['patient/Observation.rs'],
      expiresAt: new Date(Date.now() + 3_600_000),
    });
    const { addRecord } = await patient.client.request<{ addRecord: { id: string; cid: string } }>(
      ADD_RECORD,
      {
        patient: patient.address,
        resource: observation,
      },
    );
    // The node's only help: the CID. The bytes come from the blockstore, opened with the nurse's key.
    const { record } = await nurse.client.request<{ record: { envelopeCid: string } }>(
      `query ($id: ID!) { record(id: $id) { envelopeCid } }`,
      { id: addRecord.id },
    );
    expect(record.envelopeCid).toBe(addRecord.cid);
    const envelope = await test.node.content.get(CID.parse(addRecord.cid));
    const payload = JSON.parse(
      Buffer.from(openRecord({ envelope, boxSecretKey: nurse.identity.boxKeyPair.secretKey })).toString(),
    );
    expect(payload.resource).toEqual(observation);
    // Someone without a grant cannot open it.
    const stranger = await signIn(test, 'PRACTITIONER');
    expect(() => openRecord({ envelope, boxSecretKey: stranger.identity.boxKeyPair.secretKey })).toThrow(
      expect.objectContaining({ code: 'INTEGRITY_ERROR' }),
    );
  });

  it('wraps keys of records written before the grant for the grantee', async () => {
    const { addRecord } = await patient.client.request<{ addRecord: { id: string; cid: string } }>(
      ADD_RECORD,
      {
        patient: patient.address,
        resource: { ...observation, valueQuantity: { ...observation.valueQuantity, value: 70.1 } },
      },
    );
    const dietitian = await signIn(test, 'PRACTITIONER');
    await grant(patient.client, {
      patient: patient.identity,
      grantee: dietitian.address,
      scopes: ['patient/Observation.rs'],
      expiresAt: new Date(Date.now() + 3_600_000),
    });
    const { record } = await dietitian.client.request<{ record: { cid: string; envelopeCid: string } }>(
      `query ($id: ID!) { record(id: $id) { cid envelopeCid } }`,
      { id: addRecord.id },
    );
    expect(record.envelopeCid).not.toBe(record.cid);
    const envelope = await test.node.content.get(CID.parse(record.envelopeCid));
    const payload = JSON.parse(
      Buffer.from(openRecord({ envelope, boxSecretKey: dietitian.identity.boxKeyPair.secretKey })).toString(),
    );
    expect(payload.resource.valueQuantity.value).toBe(70.1);
    // The record's own envelope stays closed to the grantee.
    const own = await test.node.content.get(CID.parse(record.cid));
    expect(() =>
      openRecord({ envelope: own, boxSecretKey: dietitian.identity.boxKeyPair.secretKey }),
    ).toThrow();
  });

  it('re-seals records under fresh keys on revoke, for everyone who still has access', async () => {
    const owner = await signIn(test, 'PATIENT');
    const leaving = await signIn(test, 'PRACTITIONER');
    const staying = await signIn(test, 'PRACTITIONER');
    const add = async (value: number) =>
      (
        await owner.client.request<{ addRecord: { id: string } }>(ADD_RECORD, {
          patient: owner.address,
          resource: { ...observation, valueQuantity: { ...observation.valueQuantity, value } },
        })
      ).addRecord.id;
    const before = await add(80);
    const scopes = ['patient/Observation.rs'];
    const expiresAt = new Date(Date.now() + 3_600_000);
    const leavingGrant = await grant(owner.client, {
      patient: owner.identity,
      grantee: leaving.address,
      scopes,
      expiresAt,
    });
    await grant(owner.client, { patient: owner.identity, grantee: staying.address, scopes, expiresAt });
    const after = await add(81);
    const untouched = await owner.client.request<{ addRecord: { id: string } }>(ADD_RECORD, {
      patient: owner.address,
      resource: { resourceType: 'Condition', subject: { reference: 'Patient/p1' }, code: { text: 'asthma' } },
    });

    const typed = await owner.client.request<{ revokeTypedData: unknown }>(
      `query ($g: ID!) { revokeTypedData(grantId: $g) }`,
      {
        g: leavingGrant.data!.grantAccess.id,
      },
    );
    const revoked = await owner.client.request<{ revokeAccess: { resealedRecords: number } }>(
      `mutation ($g: ID!, $s: String!) { revokeAccess(grantId: $g, signature: $s, reseal: true) { resealedRecords } }`,
      { g: leavingGrant.data!.grantAccess.id, s: await signTypedData(owner.identity, typed.revokeTypedData) },
    );
    expect(revoked.revokeAccess.resealedRecords).toBe(2);

    const ENVELOPE = `query ($id: ID!) { record(id: $id) { version cid envelopeCid history { version } } }`;
    type Env = {
      record: { version: number; cid: string; envelopeCid: string | null; history: { version: number }[] };
    };
    for (const id of [before, after]) {
      const own = (await owner.client.request<Env>(ENVELOPE, { id })).record;
      expect(own.version).toBe(2);
      expect(own.history.map((h) => h.version)).toEqual([2, 1]);
      const bytes = await test.node.content.get(CID.parse(own.cid));
      expect(() =>
        openRecord({ envelope: bytes, boxSecretKey: leaving.identity.boxKeyPair.secretKey }),
      ).toThrow();
      expect(
        JSON.parse(
          Buffer.from(
            openRecord({ envelope: bytes, boxSecretKey: owner.identity.boxKeyPair.secretKey }),
          ).toString(),
        ).version,
      ).toBe(2);
      const stayingView = (await staying.client.request<Env>(ENVELOPE, { id })).record;
      expect(stayingView.envelopeCid).toBe(own.cid);
      openRecord({ envelope: bytes, boxSecretKey: staying.identity.boxKeyPair.secretKey });
    }
    expect((await owner.client.request<Env>(ENVELOPE, { id: untouched.addRecord.id })).record.version).toBe(
      1,
    );
    // Nothing left to rotate; and only the patient may ask.
    expect(
      await owner.client.request(`mutation ($p: String!) { resealRecords(patient: $p) }`, {
        p: owner.address,
      }),
    ).toEqual({
      resealRecords: 0,
    });
    const refused = await staying.client.send(`mutation ($p: String!) { resealRecords(patient: $p) }`, {
      p: owner.address,
    });
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    await test.node.anchorQueue.drained();
    const proof = await owner.client.request<{ verifyRecord: { verified: boolean; version: number } }>(
      `query ($id: ID!) { verifyRecord(id: $id) { verified version } }`,
      { id: before },
    );
    expect(proof.verifyRecord).toEqual({ verified: true, version: 2 });
  });

  it('audits break-glass with its reason and alerts the patient over graphql-ws', async () => {
    const ws = createClient({
      url: test.node.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${patient.client.token}` },
      retryAttempts: 0,
    });
    const alerts: { kind: string; actor: string; reason: string | null }[] = [];
    const received = new Promise<void>((resolve, reject) => {
      ws.subscribe<{ accessAlert: (typeof alerts)[number] }>(
        {
          query: `subscription ($p: String!) { accessAlert(patient: $p) { kind actor action reason at } }`,
          variables: { p: patient.address },
        },
        {
          next: ({ data }) => {
            alerts.push(data!.accessAlert);
            resolve();
          },
          error: reject,
          complete: () => undefined,
        },
      );
    });
    // Wait until the server holds the subscription before breaking the glass.
    for (
      let i = 0;
      i < 100 && test.node.services.alerts.listenerCount(patient.address.toLowerCase()) === 0;
      i += 1
    ) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const medic = await signIn(test, 'PRACTITIONER');
    await attestUser(test, medic, 'PRACTITIONER');
    const reason = 'patient unconscious after a car crash';
    const glass = await medic.client.request<{ breakGlass: { kind: string; expiresAt: string } }>(
      `mutation ($p: String!, $r: String!) { breakGlass(patient: $p, reason: $r) { kind expiresAt } }`,
      { p: patient.address, r: reason },
    );
    expect(glass.breakGlass.kind).toBe('BREAK_GLASS');
    const minutes = (new Date(glass.breakGlass.expiresAt).getTime() - Date.now()) / 60_000;
    expect(minutes).toBeGreaterThan(58);
    expect(minutes).toBeLessThanOrEqual(60);
    await received;
    expect(alerts[0]).toMatchObject({ kind: 'BREAK_GLASS', actor: medic.address, reason });
    await ws.dispose();

    const trail = await patient.client.request<Trail>(AUDIT_TRAIL, { p: patient.address, first: 5 });
    const entry = trail.auditTrail.edges.find((e) => e.node.actor === medic.address.toLowerCase())!.node;
    expect(entry).toMatchObject({ action: 'break-glass', outcome: 'EMERGENCY', reason });

    // A grantee may not listen to the patient's alerts.
    const snoop = createClient({
      url: test.node.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${medic.client.token}` },
      retryAttempts: 0,
    });
    const refused = await new Promise<string | undefined>((resolve) => {
      snoop.subscribe(
        {
          query: `subscription ($p: String!) { accessAlert(patient: $p) { kind } }`,
          variables: { p: patient.address },
        },
        {
          next: (value) => resolve((value.errors?.[0]?.extensions as { code?: string } | undefined)?.code),
          error: (errors) => resolve((errors as { extensions?: { code?: string } }[])[0]?.extensions?.code),
          complete: () => resolve(undefined),
        },
      );
    });
    expect(refused).toBe('FORBIDDEN');
    await snoop.dispose();
  });

  it('gives the patient entries whose proofs verify against the chain, and fail once altered', async () => {
    await test.node.auditAnchorer.flush();
    const trail = await patient.client.request<Trail>(AUDIT_TRAIL, { p: patient.address, first: 100 });
    const nodes = trail.auditTrail.edges.map((e) => e.node);
    expect(nodes.length).toBe(trail.auditTrail.totalCount);
    expect(nodes.some((n) => n.outcome === 'DENIED' && n.actor === doctor.address.toLowerCase())).toBe(true);
    // Hash chain: each entry points at the one before it.
    const ascending = [...nodes].reverse();
    ascending.slice(1).forEach((node, i) => expect(node.prevHash).toBe(ascending[i].hash));

    const verify = (node: EntryNode) =>
      checkAuditProof({
        fields: node,
        reportedHash: node.hash,
        proof: node.proof!,
        root: node.batch!.root,
        rootBlockOnChain: (p, root) => test.node.ledger.auditRootBlock(p, root),
      });
    for (const node of nodes) expect((await verify(node)).valid).toBe(true);

    const target = nodes[nodes.length - 1];
    await test.node.database.dataSource
      .getRepository(AuditEntryEntity)
      .update({ patient: target.patient, seq: target.seq }, { actor: '0x' + '0'.repeat(40) });
    const altered = (
      await patient.client.request<Trail>(AUDIT_TRAIL, { p: patient.address, first: 100 })
    ).auditTrail.edges
      .map((e) => e.node)
      .find((n) => n.seq === target.seq)!;
    const check = await verify(altered);
    expect(check.hashMatches).toBe(false);
    expect(check.valid).toBe(false);
  });

  it('denies the grantee and strangers the audit trail', async () => {
    const response = await doctor.client.send(AUDIT_TRAIL, { p: patient.address });
    expect(response.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});
