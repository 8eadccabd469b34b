import { ADD_RECORD, IMPORT_BUNDLE, VERIFY_RECORD, login } from '../../examples/client.js';
import type { Trainer } from '../../src/ml/model-service.js';
import { trainModel } from '../../src/ml/training.js';
import type { Ledger } from '../../src/ledger/chain-client.js';
import type { SealedPayload } from '../../src/records/record-service.js';
import { grant, signTypedData } from '../helpers/consent.js';
import { anchorForged, openRogueRelayer, sealForged } from '../helpers/forged-versions.js';
import { attestUser } from '../helpers/identity.js';
import { stopTestDatabaseServer } from '../helpers/test-database.js';
import { signIn, startTestNode, type SignedInUser, type TestNode } from '../helpers/test-node.js';
import { waitFor } from '../helpers/wait-for.js';

// Everything a patient's client can see, with every field the types carry.
const RECORD_FIELDS = `id patient resourceType version author createdAt updatedAt resource cid effectiveAt fullUrl
  authorVerified anchor { status txHash blockNumber }
  history { version cid author createdAt authorVerified anchor { status txHash blockNumber } }`;
const CHART = `query ($p: String!) { phr(patient: $p) {
  patient
  summary { total counts { resourceType count }
    vitalSigns { kind label system code value unit components { code label value unit } effectiveAt recordId }
    activeConditions { ${RECORD_FIELDS} } allergies { id version } activeMedications { id version } immunizations { id } }
  timeline(first: 100) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { ${RECORD_FIELDS} } } }
  sources { account displayName role total counts { resourceType count } }
} }`;
const RECORD = `query ($id: ID!) { record(id: $id) { ${RECORD_FIELDS} } }`;
const GRANTS = `query ($p: String!) { grants(patient: $p) {
  id kind patient grantee scopes expiresAt revokedAt active reason createdTx createdBlock revokedTx } }`;
const AUDIT = `query ($p: String!) { auditTrail(patient: $p, first: 500) {
  totalCount batches { root firstSeq lastSeq anchorTx anchorBlock }
  edges { node { seq actor action outcome hash batch { root } } } } }`;
const MODELS = `{ models { id dataset algorithm cid metricsHash anchorTx anchorBlock trainedAt
  metrics { accuracy { mean sd } } features { name } } }`;
const ACCOUNT = `query ($a: String!) { account(address: $a) { address role displayName boxPublicKey registeredAt
  keyAnchorTx verification { status role organization identifier expiresAt txHash } } }`;
const ALERTS = `query ($p: String!) { alerts(patient: $p, first: 100) {
  edges { node { kind actor action resourceType reasonCode message reason at grantId organization txHash } } } }`;
const BREAK_GLASS = `mutation ($p: String!, $r: String!) { breakGlass(patient: $p, reason: $r) { id } }`;
const END_BREAK_GLASS = `mutation ($id: ID!) { endBreakGlass(id: $id) { id revokedAt } }`;
const REVOKE_RESEAL = `mutation ($g: ID!, $s: String!) { revokeAccess(grantId: $g, signature: $s, reseal: true) { resealedRecords } }`;
const START_TRAINING = `mutation { startTraining(dataset: "cleveland", algorithm: "gnb") { id } }`;
const TRAINING_JOB = `query ($id: ID!) { trainingJob(id: $id) { state model { id } } }`;

const observation = (value: number, id: string, day: number) => ({
  resourceType: 'Observation',
  id,
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
  subject: { reference: 'Patient/p1' },
  effectiveDateTime: `2024-03-${String(day).padStart(2, '0')}T10:00:00Z`,
  valueQuantity: { value, unit: 'beats/minute', system: 'http://unitsofmeasure.org', code: '/min' },
});
const condition = (status: string) => ({
  resourceType: 'Condition',
  id: 'cond-1',
  clinicalStatus: {
    coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: status }],
  },
  code: { text: 'asthma' },
  subject: { reference: 'Patient/p1' },
  onsetDateTime: '2020-01-01',
});
const bundle = {
  resourceType: 'Bundle',
  type: 'collection',
  entry: [
    { fullUrl: 'urn:uuid:4b8e1f5c-0f8a-4c1e-9d53-2b7f3c9a1e01', resource: observation(70, 'b-hr-1', 5) },
    { fullUrl: 'urn:uuid:4b8e1f5c-0f8a-4c1e-9d53-2b7f3c9a1e02', resource: observation(75, 'b-hr-2', 6) },
  ],
};

// Cleveland with one repeat of 10 folds: the smallest real training run.
const trainer: Trainer = async (job, { onFold }) =>
  (await trainModel({ ...job, protocol: { ...job.protocol, repeats: 1 }, hooks: { onFold } })).artifact;

interface Answers {
  chart: unknown;
  records: unknown[];
  grants: unknown;
  audit: { totalCount: number; batches: unknown[] };
  models: unknown;
  accounts: unknown[];
  alerts: unknown;
  /** Which source's Patient references name this patient (what later writes are checked against). */
  aliases: unknown[];
}

describe('rebuilding the cache from the chain and IPFS', () => {
  let test: TestNode;
  let patient: SignedInUser;
  let practitioner: SignedInUser;
  let colleague: SignedInUser;
  let analyst: SignedInUser;
  let rogue: Ledger;
  const recordIds: string[] = [];
  let forgedCid = '';

  beforeAll(async () => {
    test = await startTestNode(
      { chain: { indexerIntervalMs: 100, auditAnchorIntervalMs: 3_600_000 } },
      { trainer },
    );
    patient = await signIn(test, 'PATIENT');
    practitioner = await signIn(test, 'PRACTITIONER');
    colleague = await signIn(test, 'PRACTITIONER');
    analyst = await signIn(test, 'ANALYST');
    const organization = await attestUser(test, practitioner, 'PRACTITIONER');
    await attestUser(test, colleague, 'PRACTITIONER', { organization });
    await attestUser(test, analyst, 'ANALYST');
    rogue = await openRogueRelayer(test.node);
  }, 120_000);

  afterAll(async () => {
    await rogue?.close();
    await test?.close();
    await stopTestDatabaseServer();
  });

  const add = async (who: SignedInUser, resource: unknown) =>
    (
      await who.client.request<{ addRecord: { id: string; cid: string; version: number } }>(ADD_RECORD, {
        patient: patient.address,
        resource,
      })
    ).addRecord;

  async function capture(): Promise<Answers> {
    const p = { p: patient.address };
    const ask = <T>(query: string, variables: Record<string, unknown> = {}) =>
      patient.client.request<T>(query, variables);
    const records = [];
    for (const id of recordIds) records.push((await ask<{ record: unknown }>(RECORD, { id })).record);
    const accounts = [];
    for (const user of [patient, practitioner, colleague, analyst]) {
      accounts.push((await ask<{ account: unknown }>(ACCOUNT, { a: user.address })).account);
    }
    return {
      chart: (await ask<{ phr: unknown }>(CHART, p)).phr,
      records,
      grants: (await ask<{ grants: unknown }>(GRANTS, p)).grants,
      audit: (await ask<{ auditTrail: Answers['audit'] }>(AUDIT, p)).auditTrail,
      models: (await ask<{ models: unknown }>(MODELS)).models,
      accounts,
      alerts: (await ask<{ alerts: unknown }>(ALERTS, p)).alerts,
      aliases: await test.node.database.dataSource.query(
        `SELECT source, reference, patient FROM patient_alias ORDER BY source, reference`,
      ),
    };
  }

  it('answers exactly as before after its database is dropped, and keeps writing', async () => {
    // A grant under which the practitioner writes; its key is in the envelopes written meanwhile.
    const expiresAt = new Date(Date.now() + 24 * 3600_000);
    const leaving = await grant(patient.client, {
      patient: patient.identity,
      grantee: practitioner.address,
      scopes: ['patient/*.cruds'],
      expiresAt,
    });
    const leavingId = leaving.data!.grantAccess.id;
    const hr = await add(patient, observation(72, 'hr-1', 1));
    const asthma = await add(patient, condition('active'));
    const asthmaV2 = await add(patient, condition('resolved'));
    expect(asthmaV2).toMatchObject({ id: asthma.id, version: 2 });
    const byPractitioner = await add(practitioner, observation(88, 'hr-pract', 2));
    const imported = await patient.client.request<{
      importBundle: { entries: { recordId: string; outcome: string }[] };
    }>(IMPORT_BUNDLE, { patient: patient.address, bundle });
    expect(imported.importBundle.entries).toMatchObject([{ outcome: 'CREATED' }, { outcome: 'CREATED' }]);
    recordIds.push(
      hr.id,
      asthma.id,
      byPractitioner.id,
      ...imported.importBundle.entries.map((e) => e.recordId),
    );

    // Revoked with re-sealing: every record the practitioner could open gets a version under new keys.
    const typed = await patient.client.request<{ revokeTypedData: unknown }>(
      `query ($g: ID!) { revokeTypedData(grantId: $g) }`,
      { g: leavingId },
    );
    const revoked = await patient.client.request<{ revokeAccess: { resealedRecords: number } }>(
      REVOKE_RESEAL,
      {
        g: leavingId,
        s: await signTypedData(patient.identity, typed.revokeTypedData),
      },
    );
    const resealed = revoked.revokeAccess.resealedRecords;
    expect(resealed).toBeGreaterThanOrEqual(3);
    // A live grant, and two break-glass accesses: one ended by the patient, one left open.
    await grant(patient.client, {
      patient: patient.identity,
      grantee: colleague.address,
      scopes: ['patient/Observation.rs'],
      expiresAt,
    });
    const ended = await practitioner.client.request<{ breakGlass: { id: string } }>(BREAK_GLASS, {
      p: patient.address,
      r: 'unconscious in the emergency room',
    });
    await patient.client.request(END_BREAK_GLASS, { id: ended.breakGlass.id });
    await colleague.client.request(BREAK_GLASS, {
      p: patient.address,
      r: 'cardiac arrest, no consent possible',
    });
    // Reads that leave audit entries, anchored as a batch.
    await colleague.client.request(RECORD, { id: hr.id });
    await colleague.client.request(RECORD, { id: byPractitioner.id });
    await test.node.auditAnchorer.flush();

    await test.node.anchorQueue.drained();
    // A rogue relayer anchors an unsigned change to the patient's record (its envelope is even in the
    // blockstore): it is refused before the rebuild and must stay refused after it.
    const forged: SealedPayload = {
      recordId: hr.id,
      version: 3,
      patient: patient.address.toLowerCase(),
      resource: observation(180, 'hr-1', 1) as SealedPayload['resource'],
      previousCid: (await patient.client.request<{ record: { cid: string } }>(RECORD, { id: hr.id })).record
        .cid,
      author: patient.address.toLowerCase(),
      sourceKey: 'hr-1',
    };
    forgedCid = await sealForged(forged, [test.node.keys.boxPublicKey], [test.node.content]);
    await anchorForged(rogue, [{ patient: forged.patient, recordId: hr.id, version: 3, cid: forgedCid }]);

    // A trained model, anchored and served.
    const job = await analyst.client.request<{ startTraining: { id: string } }>(START_TRAINING);
    await waitFor(
      async () =>
        (
          await analyst.client.request<{ trainingJob: { state: string } }>(TRAINING_JOB, {
            id: job.startTraining.id,
          })
        ).trainingJob.state === 'SUCCEEDED',
      120_000,
      200,
    );
    await test.node.anchorQueue.drained();
    const quarantined = async () =>
      (await test.node.services.records.quarantined(hr.id)).map((q) => [q.cid, q.reason]);
    await waitFor(async () => (await quarantined()).length > 0, 10_000, 50);
    expect(await quarantined()).toEqual([[forgedCid, 'UNSIGNED_FOREIGN_UPDATE']]);

    const before = await capture();
    // The capture covers what the test set up (so a rebuild that lost it could not pass).
    const versions = (before.records as { history: unknown[] }[]).map((r) => r.history.length);
    // Written: 1, 2, 1, 1 and 1 versions; re-sealing added one to `resealed` of them.
    expect(versions.reduce((sum, n) => sum + n, 0)).toBe(6 + resealed);
    expect(versions.filter((n) => n > 1).length).toBeGreaterThanOrEqual(3);
    expect((before.grants as unknown[]).length).toBe(4);
    expect(before.audit.batches).toHaveLength(1);
    expect(before.audit.totalCount).toBeGreaterThan(0);
    expect((before.models as { dataset: string }[]).map((m) => m.dataset)).toContain('cleveland');
    expect((before.alerts as { edges: unknown[] }).edges).toHaveLength(3);
    const owner = patient.address.toLowerCase();
    expect(before.aliases).toHaveLength(2);
    expect(before.aliases).toEqual(
      expect.arrayContaining(
        [owner, practitioner.address.toLowerCase()].map((source) => ({
          source,
          reference: 'Patient/p1',
          patient: owner,
        })),
      ),
    );

    const rebuilt = await test.restartOnEmptyDatabase();
    // Nothing of this node's own is refused: the one quarantined version is the rogue relayer's.
    expect(
      (await test.node.services.records.quarantined()).map((q) => [
        q.recordId,
        q.version,
        q.reason,
        q.detail,
      ]),
    ).toEqual([[hr.id, 3, 'UNSIGNED_FOREIGN_UPDATE', expect.any(String)]]);
    expect(rebuilt.rebuild).toMatchObject({
      recordVersions: { adopted: 6 + resealed, missing: 0, refused: 1 },
    });
    // Sessions are the state a rebuild loses: everyone logs in again.
    for (const user of [patient, practitioner, colleague, analyst]) {
      user.client = test.client();
      await login(user.client, user.identity);
    }
    const after = await capture();

    // Audit entries were only ever in this node's Postgres; the anchored roots come back (see README).
    expect(after.audit).toEqual({ totalCount: 0, batches: before.audit.batches, edges: [] });
    // A break-glass reason is kept off chain (only its hash): the rebuilt grants and alerts lack it.
    const withoutReasons = (value: unknown) =>
      JSON.parse(JSON.stringify(value), (key, v) => (key === 'reason' ? null : v)) as unknown;
    expect(after.grants).toEqual(withoutReasons(before.grants));
    expect(after.alerts).toEqual(withoutReasons(before.alerts));
    expect({ ...after, audit: null, grants: null, alerts: null }).toEqual({
      ...before,
      audit: null,
      grants: null,
      alerts: null,
    });
    expect(await quarantined()).toEqual([[forgedCid, 'UNSIGNED_FOREIGN_UPDATE']]);

    // The node writes on: a new record anchors and verifies, and the audit log continues after the root.
    const fresh = await add(patient, observation(64, 'hr-after', 9));
    await test.node.anchorQueue.drained();
    const proof = await patient.client.request<{
      verifyRecord: { verified: boolean; anchorTx: string | null };
    }>(VERIFY_RECORD, { id: fresh.id });
    expect(proof.verifyRecord.verified).toBe(true);
    expect(proof.verifyRecord.anchorTx).toMatch(/^0x[0-9a-f]{64}$/);
    await colleague.client.request(RECORD, { id: hr.id });
    const trail = await patient.client.request<{ auditTrail: { edges: { node: { seq: number } }[] } }>(
      AUDIT,
      {
        p: patient.address,
      },
    );
    const lastAnchored = (before.audit.batches[0] as { lastSeq: number }).lastSeq;
    expect(trail.auditTrail.edges.map((e) => e.node.seq)).toEqual([lastAnchored + 1]);
  }, 300_000);
});
