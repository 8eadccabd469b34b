import { randomUUID } from 'node:crypto';
import {
  ADD_RECORD,
  RECORD_TYPED_DATA,
  addSignedRecord,
  importSignedBundle,
  signTypedData,
  type SignedRecord,
} from '../../examples/client.js';
import type { Ledger } from '../../src/ledger/chain-client.js';
import { recordVersionMessage, recordVersionTypedData } from '../../src/ledger/record-typed-data.js';
import { omnichartDomain } from '../../src/ledger/typed-data.js';
import type { SealedPayload } from '../../src/records/record-service.js';
import { grant, revoke } from '../helpers/consent.js';
import { anchorForged, openRogueRelayer, sealForged } from '../helpers/forged-versions.js';
import { stopTestDatabaseServer } from '../helpers/test-database.js';
import { signIn, startTestNode, type SignedInUser, type TestNode } from '../helpers/test-node.js';
import { waitFor } from '../helpers/wait-for.js';
import { freePort } from '../ledger/helpers.js';

const READ = `query ($id: ID!) {
  record(id: $id) {
    id version resourceType resource cid authorVerified
    history { version cid author authorVerified }
  }
}`;
type Read = {
  record: {
    version: number;
    resource: Record<string, unknown>;
    cid: string;
    authorVerified: boolean;
    history: { version: number; cid: string; author: string; authorVerified: boolean }[];
  };
};

const observation = (value: number, id?: string) => ({
  resourceType: 'Observation',
  ...(id ? { id } : {}),
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
  effectiveDateTime: '2026-11-30T08:00:00Z',
  valueQuantity: { value, unit: 'beats/minute', system: 'http://unitsofmeasure.org', code: '/min' },
});

describe('record versions no node can forge', () => {
  let test: TestNode;
  let patient: SignedInUser;
  let rogue: Ledger;

  beforeAll(async () => {
    // A peer is configured (nothing listens there) so the node adopts versions anchored by others.
    test = await startTestNode({
      peers: [`http://127.0.0.1:${await freePort()}`],
      peersAllowHttp: true,
      chain: { indexerIntervalMs: 100 },
    });
    patient = await signIn(test, 'PATIENT');
    rogue = await openRogueRelayer(test.node);
  });

  afterAll(async () => {
    await rogue?.close();
    await test?.close();
    await stopTestDatabaseServer();
  });

  const recordCount = async () =>
    Number(
      (
        await test.node.database.dataSource.query(`SELECT count(*) AS n FROM record WHERE patient = $1`, [
          patient.address.toLowerCase(),
        ])
      )[0].n,
    );

  async function addSigned(resource: unknown, recordId?: string): Promise<SignedRecord> {
    const response = await addSignedRecord(patient.client, patient.identity, patient.address, resource, {
      recordId,
    });
    if (!response.data) throw new Error(JSON.stringify(response.errors));
    return response.data.addRecord;
  }

  it('answers authorVerified for a signed addRecord and refuses a signature that is not the caller’s', async () => {
    const signed = await addSigned(observation(71, 'hr-1'));
    expect(signed).toMatchObject({ version: 1, authorVerified: true });
    const updated = await addSigned(observation(75, 'hr-1'));
    expect(updated).toMatchObject({ id: signed.id, version: 2, authorVerified: true });

    const unsigned = await patient.client.request<{ addRecord: SignedRecord }>(ADD_RECORD, {
      patient: patient.address,
      resource: observation(72),
    });
    expect(unsigned.addRecord.authorVerified).toBe(false);

    const before = await recordCount();
    const stranger = await signIn(test, 'PATIENT');
    const byOther = await addSignedRecord(
      patient.client,
      patient.identity,
      patient.address,
      observation(73),
      {
        signer: stranger.identity,
      },
    );
    expect(byOther.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    expect(byOther.errors?.[0].message).toContain('not to the caller');

    // Signed for one value, sent with another.
    const { recordTypedData } = await patient.client.request<{
      recordTypedData: { message: { recordId: string; version: number } };
    }>(RECORD_TYPED_DATA, { patient: patient.address, resource: observation(74) });
    expect(recordTypedData.message.version).toBe(1);
    const signature = await signTypedData(patient.identity, recordTypedData);
    const swapped = await patient.client.send(ADD_RECORD, {
      patient: patient.address,
      resource: observation(99),
      recordId: recordTypedData.message.recordId,
      authorSignature: signature,
    });
    expect(swapped.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const malformed = await patient.client.send(ADD_RECORD, {
      patient: patient.address,
      resource: observation(74),
      recordId: recordTypedData.message.recordId,
      authorSignature: '0x1234',
    });
    expect(malformed.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    // A record id already in use cannot be claimed for a new record.
    const reused = await patient.client.send(RECORD_TYPED_DATA, {
      patient: patient.address,
      resource: observation(76),
      recordId: unsigned.addRecord.id,
    });
    expect(reused.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(reused.errors?.[0].message).toContain('already used');
    expect(await recordCount()).toBe(before);
  });

  it('signs a whole Bundle once; each entry is stored as an author-verified version', async () => {
    const bundle = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [71, 72, 73].map((value) => ({
        fullUrl: `urn:uuid:${randomUUID()}`,
        resource: observation(value),
      })),
    };
    const response = await importSignedBundle(patient.client, patient.identity, patient.address, bundle);
    expect(response.data?.importBundle.written).toBe(true);
    for (const entry of response.data!.importBundle.entries) {
      const { record } = await patient.client.request<Read>(READ, { id: entry.recordId });
      expect(record.authorVerified).toBe(true);
    }
  });

  it('serves none of the versions a rogue relayer anchors, and quarantines each with its reason', async () => {
    const original = observation(60, 'hr-forged');
    const base = await addSigned(original);
    const other = await patient.client.request<{ addRecord: SignedRecord }>(ADD_RECORD, {
      patient: patient.address,
      resource: observation(61),
    });
    const nodeKey = test.node.keys.boxPublicKey;
    const stores = [test.node.content];
    const owner = patient.address.toLowerCase();
    const elsewhere = (await signIn(test, 'PATIENT')).address.toLowerCase();
    const v2 = (overrides: Partial<SealedPayload>): SealedPayload => ({
      recordId: base.id,
      version: 2,
      patient: owner,
      resource: observation(62, 'hr-forged') as SealedPayload['resource'],
      previousCid: base.cid,
      author: owner,
      sourceKey: 'hr-forged',
      ...overrides,
    });
    // A real signature of the patient's, but over other content than what is sealed.
    const domain = omnichartDomain(test.node.ledger.chainId, test.node.ledger.contractAddress);
    const signedOther = await signTypedData(
      patient.identity,
      recordVersionTypedData(
        domain,
        recordVersionMessage({ patient: owner, recordId: base.id, version: 2, resource: observation(63) }),
      ),
    );
    const forgeries: { reason: string; payload: SealedPayload }[] = [
      { reason: 'VERSION_GAP', payload: v2({ version: 3 }) },
      { reason: 'PREVIOUS_CID_MISMATCH', payload: v2({ previousCid: other.addRecord.cid }) },
      { reason: 'PATIENT_CHANGED', payload: v2({ patient: elsewhere }) },
      {
        reason: 'TYPE_CHANGED',
        payload: v2({
          resource: {
            resourceType: 'Condition',
            subject: { reference: 'Patient/x' },
          } as SealedPayload['resource'],
        }),
      },
      { reason: 'AUTHOR_NOT_ENTITLED', payload: v2({ author: elsewhere }) },
      { reason: 'BAD_AUTHOR_SIGNATURE', payload: v2({ authorSignature: signedOther }) },
      // Everything in order and the patient named as author, but unsigned and from another node.
      { reason: 'UNSIGNED_FOREIGN_UPDATE', payload: v2({}) },
    ];
    const items = [];
    for (const forgery of forgeries) {
      const cid = await sealForged(forgery.payload, [nodeKey], stores);
      items.push({
        patient: forgery.payload.patient,
        recordId: base.id,
        version: forgery.payload.version,
        cid,
      });
    }
    // A held version is never fetched again, so an id is reused within one batch: a first version for
    // the patient, then another first version of the same id for someone else.
    const fresh = randomUUID();
    const first = v2({ recordId: fresh, version: 1, previousCid: undefined, sourceKey: undefined });
    const firstItem = {
      patient: owner,
      recordId: fresh,
      version: 1,
      cid: await sealForged(first, [nodeKey], stores),
    };
    const reuse = { ...first, patient: elsewhere, resource: observation(64) as SealedPayload['resource'] };
    const reuseItem = {
      patient: elsewhere,
      recordId: fresh,
      version: 1,
      cid: await sealForged(reuse, [nodeKey], stores),
    };
    await anchorForged(rogue, [...items, firstItem, reuseItem]);

    const records = test.node.services.records;
    await waitFor(async () => (await records.quarantined(fresh)).length === 1, 20_000);
    // Records are adopted side by side, so the other record's verdicts may come later.
    await waitFor(async () => (await records.quarantined(base.id)).length >= forgeries.length, 20_000).catch(
      () => undefined,
    );
    const quarantined = await records.quarantined(base.id);
    expect(quarantined.map((q) => q.reason).sort()).toEqual(forgeries.map((f) => f.reason).sort());
    for (const [i, item] of items.entries()) {
      const row = quarantined.find((q) => q.cid === item.cid);
      expect({ i, reason: row?.reason }).toEqual({ i, reason: forgeries[i].reason });
      expect(row).toMatchObject({ version: item.version, patient: item.patient });
      expect(row!.anchorTx).toMatch(/^0x[0-9a-f]{64}$/);
      expect(row!.anchorBlock).toBeGreaterThan(0);
    }
    const { record } = await patient.client.request<Read>(READ, { id: base.id });
    expect(record.version).toBe(1);
    expect(record.cid).toBe(base.cid);
    expect(record.resource).toEqual(original);
    expect(record.history).toHaveLength(1);

    const [reused] = await records.quarantined(fresh);
    expect(reused).toMatchObject({ cid: reuseItem.cid, patient: elsewhere, reason: 'RECORD_ID_REUSED' });
    const kept = await patient.client.request<Read>(READ, { id: fresh });
    expect(kept.record).toMatchObject({ version: 1, cid: firstItem.cid, authorVerified: false });
  });

  it('adopts an unsigned re-seal from another node, but no unsigned change of content', async () => {
    const original = observation(70, 'hr-resealed');
    const { addRecord: base } = await patient.client.request<{ addRecord: SignedRecord }>(ADD_RECORD, {
      patient: patient.address,
      resource: original,
    });
    const owner = patient.address.toLowerCase();
    const nodeKey = test.node.keys.boxPublicKey;
    const stores = [test.node.content];
    const version = (n: number, previousCid: string, resource: object): SealedPayload => ({
      recordId: base.id,
      version: n,
      patient: owner,
      resource: resource as SealedPayload['resource'],
      previousCid,
      author: owner,
      sourceKey: 'hr-resealed',
    });
    // The same content under fresh keys (what key rotation writes): served.
    const resealCid = await sealForged(version(2, base.cid, original), [nodeKey], stores);
    await anchorForged(rogue, [{ patient: owner, recordId: base.id, version: 2, cid: resealCid }]);
    await waitFor(async () => {
      const { record } = await patient.client.request<Read>(READ, { id: base.id });
      return record.version === 2;
    }, 20_000);
    // Then a change of content from the same node, which is not the record's home: refused.
    const changedCid = await sealForged(
      version(3, resealCid, observation(180, 'hr-resealed')),
      [nodeKey],
      stores,
    );
    await anchorForged(rogue, [{ patient: owner, recordId: base.id, version: 3, cid: changedCid }]);
    const records = test.node.services.records;
    await waitFor(async () => (await records.quarantined(base.id)).length === 1, 20_000);
    const [refused] = await records.quarantined(base.id);
    expect(refused).toMatchObject({ cid: changedCid, version: 3, reason: 'UNSIGNED_FOREIGN_UPDATE' });
    const { record } = await patient.client.request<Read>(READ, { id: base.id });
    expect(record).toMatchObject({ version: 2, cid: resealCid, resource: original });
  });

  it('holds a version back until the one it follows arrives; a grantee with a write grant is entitled', async () => {
    const base = await addSigned(observation(80, 'hr-gap'));
    const practitioner = await signIn(test, 'PRACTITIONER');
    const granted = await grant(patient.client, {
      patient: patient.identity,
      grantee: practitioner.address,
      scopes: ['patient/Observation.cru'],
      expiresAt: new Date(Date.now() + 3600_000),
    });
    expect(granted.data?.grantAccess.active).toBe(true);

    const owner = patient.address.toLowerCase();
    const author = practitioner.address.toLowerCase();
    const domain = omnichartDomain(test.node.ledger.chainId, test.node.ledger.contractAddress);
    const resource2 = observation(81, 'hr-gap');
    const authorSignature = await signTypedData(
      practitioner.identity,
      recordVersionTypedData(
        domain,
        recordVersionMessage({ patient: owner, recordId: base.id, version: 2, resource: resource2 }),
      ),
    );
    const stores = [test.node.content];
    const keys = [test.node.keys.boxPublicKey];
    const cid2 = await sealForged(
      {
        recordId: base.id,
        version: 2,
        patient: owner,
        resource: resource2 as SealedPayload['resource'],
        previousCid: base.cid,
        author,
        authorSignature,
      },
      keys,
      stores,
    );
    // From another node, a change needs its author's signature (unsigned, it would be refused).
    const patientSignature = await signTypedData(
      patient.identity,
      recordVersionTypedData(
        domain,
        recordVersionMessage({
          patient: owner,
          recordId: base.id,
          version: 3,
          resource: observation(82, 'hr-gap'),
        }),
      ),
    );
    const cid3 = await sealForged(
      {
        recordId: base.id,
        version: 3,
        patient: owner,
        resource: observation(82, 'hr-gap') as SealedPayload['resource'],
        previousCid: cid2,
        author: owner,
        authorSignature: patientSignature,
      },
      keys,
      stores,
    );
    const records = test.node.services.records;
    await anchorForged(rogue, [{ patient: owner, recordId: base.id, version: 3, cid: cid3 }]);
    await waitFor(async () => (await records.quarantined(base.id)).length === 1, 20_000);
    expect((await records.quarantined(base.id))[0]).toMatchObject({ version: 3, reason: 'VERSION_GAP' });
    expect((await patient.client.request<Read>(READ, { id: base.id })).record.version).toBe(1);

    await anchorForged(rogue, [{ patient: owner, recordId: base.id, version: 2, cid: cid2 }]);
    await waitFor(
      async () => (await patient.client.request<Read>(READ, { id: base.id })).record.version === 3,
      20_000,
    );
    const { record } = await patient.client.request<Read>(READ, { id: base.id });
    expect(record.resource).toEqual(observation(82, 'hr-gap'));
    expect(record.authorVerified).toBe(true);
    expect(record.history.map((h) => [h.version, h.cid, h.author.toLowerCase(), h.authorVerified])).toEqual([
      [3, cid3, owner, true],
      [2, cid2, author, true],
      [1, base.cid, owner, true],
    ]);
    expect(await records.quarantined(base.id)).toEqual([]);

    // Once the grant is revoked (its block is kept), the same grantee's next version is refused.
    const revoked = await revoke(patient.client, patient.identity, granted.data!.grantAccess.id);
    expect(revoked.data?.revokeAccess.active).toBe(false);
    const [row] = await test.node.database.dataSource.query(
      `SELECT revoked_block FROM access_grant WHERE id = $1`,
      [granted.data!.grantAccess.id],
    );
    expect(row.revoked_block).toBeGreaterThan(0);
    const resource4 = observation(83, 'hr-gap');
    const cid4 = await sealForged(
      {
        recordId: base.id,
        version: 4,
        patient: owner,
        resource: resource4 as SealedPayload['resource'],
        previousCid: cid3,
        author,
        authorSignature: await signTypedData(
          practitioner.identity,
          recordVersionTypedData(
            domain,
            recordVersionMessage({ patient: owner, recordId: base.id, version: 4, resource: resource4 }),
          ),
        ),
      },
      keys,
      stores,
    );
    await anchorForged(rogue, [{ patient: owner, recordId: base.id, version: 4, cid: cid4 }]);
    await waitFor(async () => (await records.quarantined(base.id)).length === 1, 20_000);
    expect((await records.quarantined(base.id))[0]).toMatchObject({
      version: 4,
      author,
      reason: 'AUTHOR_NOT_ENTITLED',
    });
    expect((await patient.client.request<Read>(READ, { id: base.id })).record.version).toBe(3);
  });
});
