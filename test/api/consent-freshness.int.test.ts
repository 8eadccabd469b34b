import {
  ADD_RECORD,
  ATTESTATION_TYPED_DATA,
  login,
  newIdentity,
  register,
  signTypedData,
  type Identity,
  type OmnichartClient,
} from '../../examples/client.js';
import { grant } from '../helpers/consent.js';
import { SAMPLE_NPI } from '../helpers/identity.js';
import { stopTestDatabaseServer } from '../helpers/test-database.js';
import { startTestNode, type TestNode } from '../helpers/test-node.js';

/** One operation that authorizes the same search twice: the page, then its totalCount. */
const TIMELINE_WITH_COUNT = `query ($patient: String!) {
  phr(patient: $patient) { timeline(first: 5) { totalCount edges { node { id } } } }
}`;

const observation = {
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
  effectiveDateTime: '2026-11-20T08:00:00Z',
  valueQuantity: { value: 64, unit: 'beats/minute', system: 'http://unitsofmeasure.org', code: '/min' },
};

describe('consent freshness: each operation catches up with the chain once, before it decides', () => {
  let test: TestNode;
  let patient: { identity: Identity; client: OmnichartClient };
  let doctor: { identity: Identity; client: OmnichartClient };
  let grantId: string;

  const sql = async (text: string, params: unknown[]) =>
    (await test.node.database.dataSource.query(text, params)) as Record<string, unknown>[];
  const auditEntriesOf = async (actor: string) =>
    (
      await sql(`SELECT action, outcome FROM audit_entry WHERE patient = $1 AND actor = $2 ORDER BY seq`, [
        patient.identity.wallet.address.toLowerCase(),
        actor.toLowerCase(),
      ])
    ).map((row) => `${String(row.action)}:${String(row.outcome)}`);

  beforeAll(async () => {
    // The background indexer polls once every ten minutes here: only a request's own catch-up can
    // see what happens on chain during the test.
    test = await startTestNode({ chain: { indexerIntervalMs: 600_000 } });
    const party = async (role: 'PATIENT' | 'PRACTITIONER', name: string) => {
      const identity = newIdentity();
      const client = test.client();
      await register(client, identity, role, name);
      await login(client, identity);
      return { identity, client };
    };
    patient = await party('PATIENT', 'Freshness Patient');
    doctor = await party('PRACTITIONER', 'Freshness Doctor');
    await patient.client.request(ADD_RECORD, {
      patient: patient.identity.wallet.address,
      resource: observation,
    });
    const granted = await grant(patient.client, {
      patient: patient.identity,
      grantee: doctor.identity.wallet.address,
      scopes: ['patient/*.rs'],
      expiresAt: new Date(Date.now() + 3_600_000),
    });
    expect(granted.errors).toBeUndefined();
    grantId = granted.data!.grantAccess.id;
  });

  afterAll(async () => {
    await test?.close();
    await stopTestDatabaseServer();
  });

  it('audits an operation that authorizes the same access twice once', async () => {
    const response = await doctor.client.send<{
      phr: { timeline: { totalCount: number; edges: unknown[] } };
    }>(TIMELINE_WITH_COUNT, { patient: patient.identity.wallet.address });
    expect(response.errors).toBeUndefined();
    expect(response.data!.phr.timeline.totalCount).toBe(1);
    expect(response.data!.phr.timeline.edges).toHaveLength(1);
    expect(await auditEntriesOf(doctor.identity.wallet.address)).toEqual(['search:ALLOWED']);
  });

  it('denies on the next request a grant revoked on the contract behind this node', async () => {
    // The patient's revocation goes straight to the contract (as another node would relay it): this
    // node's cache is not written through, and its indexer is not due to poll.
    const ledger = test.node.ledger;
    const patientAddress = patient.identity.wallet.address.toLowerCase();
    const typedData = await ledger.revokeTypedData({ patient: patientAddress, grantId });
    await ledger.relayRevoke({
      grantId,
      nonce: await ledger.patientNonce(patientAddress),
      signature: await signTypedData(patient.identity, typedData),
    });
    expect(await sql(`SELECT revoked_at FROM access_grant WHERE id = $1`, [grantId])).toEqual([
      { revoked_at: null },
    ]);

    const response = await doctor.client.send(TIMELINE_WITH_COUNT, {
      patient: patient.identity.wallet.address,
    });
    expect(response.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const [row] = await sql(`SELECT revoked_at, revoked_tx FROM access_grant WHERE id = $1`, [grantId]);
    expect(row.revoked_at).toBeInstanceOf(Date);
    expect(row.revoked_tx).toMatch(/^0x[0-9a-f]{64}$/);
    expect(await auditEntriesOf(doctor.identity.wallet.address)).toEqual(['search:ALLOWED', 'search:DENIED']);
  });

  it('applies each relay of an operation before answering it, though the operation caught up already', async () => {
    // Two attestations relayed by one mutation: the catch-up after each relay is not the operation's
    // shared one, or the second would answer from the cache as it was before its own transaction.
    const subjects = [newIdentity(), newIdentity()];
    const inputs = [];
    const signatures = [];
    for (const subject of subjects) {
      await register(test.client(), subject, 'PRACTITIONER', 'Attested in one mutation');
      const organization = newIdentity();
      await test.node.ledger.admitOrganization(organization.wallet.address, true);
      const input = {
        subject: subject.wallet.address,
        role: 'PRACTITIONER',
        organization: organization.wallet.address,
        identifier: SAMPLE_NPI,
        expiresAt: new Date(Date.now() + 24 * 3600_000).toISOString(),
      };
      const { attestationTypedData } = await doctor.client.request<{ attestationTypedData: unknown }>(
        ATTESTATION_TYPED_DATA,
        { input },
      );
      inputs.push(input);
      signatures.push(await signTypedData(organization, attestationTypedData));
    }
    const response = await doctor.client.send<{ first: { status: string }; second: { status: string } }>(
      `mutation ($a: AttestationInput!, $sa: String!, $b: AttestationInput!, $sb: String!) {
        first: attest(input: $a, signature: $sa) { status }
        second: attest(input: $b, signature: $sb) { status }
      }`,
      { a: inputs[0], sa: signatures[0], b: inputs[1], sb: signatures[1] },
    );
    expect(response.errors).toBeUndefined();
    expect(response.data).toEqual({ first: { status: 'VERIFIED' }, second: { status: 'VERIFIED' } });
  });
});
