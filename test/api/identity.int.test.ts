import { ADD_RECORD, attest, login, newIdentity, register, signTypedData } from '../../examples/client.js';
import { SAMPLE_NPI, attestUser } from '../helpers/identity.js';
import { stopTestDatabaseServer } from '../helpers/test-database.js';
import type { SignedInUser, TestNode } from '../helpers/test-node.js';
import { startTwoNodes } from '../helpers/two-nodes.js';
import { waitFor } from '../helpers/wait-for.js';

const observation = {
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
  effectiveDateTime: '2026-11-30T08:00:00Z',
  valueQuantity: { value: 64, unit: 'beats/minute', system: 'http://unitsofmeasure.org', code: '/min' },
};

const READ = `query ($id: ID!) { record(id: $id) { id resource } }`;
const BREAK_GLASS = `mutation ($p: String!, $r: String!) { breakGlass(patient: $p, reason: $r) { id kind active } }`;
const END_BREAK_GLASS = `mutation ($id: ID!) { endBreakGlass(id: $id) { id active revokedAt } }`;
const ACCOUNT = `query ($a: String!) {
  account(address: $a) { role verification { status role organization organizationName identifier expiresAt } }
}`;
const ALERTS = `query ($p: String!, $first: Int, $after: String) {
  alerts(patient: $p, first: $first, after: $after) {
    edges { cursor node { kind actor action reason grantId organization txHash at } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const REASON = 'unconscious in the emergency room, allergies unknown';

interface Errorish {
  errors?: { message: string; extensions?: { code?: string; retryAfter?: number } }[];
}
const codeOf = (response: Errorish) => response.errors?.[0]?.extensions?.code ?? 'OK';

describe('verified identities: attested roles and break-glass bounded by the patient, on two nodes', () => {
  let a: TestNode;
  let b: TestNode;
  const admin = newIdentity();

  async function user(node: TestNode, role: 'PATIENT' | 'PRACTITIONER' | 'ANALYST' | 'ORGANIZATION') {
    const identity = newIdentity();
    const client = node.client();
    await register(client, identity, role, `${role.toLowerCase()} ${identity.wallet.address.slice(2, 8)}`);
    await login(client, identity);
    return { identity, client, address: identity.wallet.address } satisfies SignedInUser;
  }

  /** The same identity, signed in at node B (its registration reaches B through the chain). */
  async function atB(account: SignedInUser): Promise<SignedInUser> {
    const client = b.client();
    await waitFor(
      async () => (await b.node.services.accounts.find(account.address.toLowerCase())) !== null,
      15_000,
    );
    await login(client, account.identity);
    return { ...account, client };
  }

  async function patientWithRecord() {
    const patient = await user(a, 'PATIENT');
    const { addRecord } = await patient.client.request<{ addRecord: { id: string } }>(ADD_RECORD, {
      patient: patient.address,
      resource: observation,
    });
    return { patient, recordId: addRecord.id };
  }

  beforeAll(async () => {
    ({ a, b } = await startTwoNodes({
      auth: { admins: [admin.wallet.address.toLowerCase()], breakGlassDailyLimit: 3 },
    }));
  });

  afterAll(async () => {
    await b?.close();
    await a?.close();
    await stopTestDatabaseServer();
  });

  it('a self-registered practitioner cannot break the glass and reads nothing', async () => {
    const { patient, recordId } = await patientWithRecord();
    const impostor = await user(a, 'PRACTITIONER');
    const glass = await impostor.client.send(BREAK_GLASS, { p: patient.address, r: REASON });
    expect(codeOf(glass)).toBe('FORBIDDEN');
    expect(glass.errors![0]!.message).toMatch(/attestation missing/);
    expect(codeOf(await impostor.client.send(READ, { id: recordId }))).toBe('FORBIDDEN');
    const { account } = await patient.client.request<{ account: { verification: { status: string } } }>(
      ACCOUNT,
      {
        a: impostor.address,
      },
    );
    expect(account.verification.status).toBe('UNVERIFIED');
    // Nothing on chain either: no break-glass alert for the patient.
    const alerts = await patient.client.request<{ alerts: { edges: { node: { kind: string } }[] } }>(ALERTS, {
      p: patient.address,
    });
    expect(alerts.alerts.edges.map((e) => e.node.kind)).not.toContain('BREAK_GLASS');
  });

  it('the operator admits an organization over GraphQL; its attestation shows on every node', async () => {
    const adminClient = a.client();
    await register(adminClient, admin, 'ADMIN', 'Network operator');
    await login(adminClient, admin);
    const organization = await user(a, 'ORGANIZATION');
    const practitioner = await user(a, 'PRACTITIONER');

    // Not admitted yet: the contract refuses its attestation.
    const early = await attest(practitioner.client, {
      organization: organization.identity,
      subject: practitioner.address,
      role: 'PRACTITIONER',
      identifier: SAMPLE_NPI,
      expiresAt: new Date(Date.now() + 3600_000),
    });
    expect(codeOf(early)).toBe('FORBIDDEN');
    // Only an ADMIN of the owner's node may admit.
    const byPractitioner = await practitioner.client.send(
      `mutation ($o: String!) { admitOrganization(organization: $o) { admitted } }`,
      { o: organization.address },
    );
    expect(codeOf(byPractitioner)).toBe('FORBIDDEN');
    const admitted = await adminClient.request<{ admitOrganization: { admitted: boolean; txHash: string } }>(
      `mutation ($o: String!) { admitOrganization(organization: $o) { admitted txHash } }`,
      { o: organization.address },
    );
    expect(admitted.admitOrganization.admitted).toBe(true);

    const attested = await attest(practitioner.client, {
      organization: organization.identity,
      subject: practitioner.address,
      role: 'PRACTITIONER',
      identifier: SAMPLE_NPI,
      expiresAt: new Date(Date.now() + 3600_000),
    });
    expect(attested.errors).toBeUndefined();
    expect(attested.data!.attest).toMatchObject({ status: 'VERIFIED', organization: organization.address });
    const expected = {
      status: 'VERIFIED',
      role: 'PRACTITIONER',
      organization: organization.address,
      organizationName: `organization ${organization.address.slice(2, 8)}`,
      identifier: SAMPLE_NPI,
    };
    const seenAtA = await a
      .client()
      .request<{ account: { verification: unknown } }>(ACCOUNT, { a: practitioner.address });
    expect(seenAtA.account.verification).toMatchObject(expected);
    await waitFor(async () => {
      const seen = await b
        .client()
        .request<{ account: { verification: { status: string } } | null }>(ACCOUNT, {
          a: practitioner.address,
        });
      return seen.account?.verification.status === 'VERIFIED';
    }, 15_000);
    const { account: org } = await b
      .client()
      .request<{ account: { verification: { status: string } } }>(ACCOUNT, {
        a: organization.address,
      });
    expect(org.verification.status).toBe('VERIFIED');
  });

  it('attested: break-glass is allowed and audited; revoked or expired: FORBIDDEN on the next request at both nodes', async () => {
    const { patient, recordId } = await patientWithRecord();
    const medic = await user(a, 'PRACTITIONER');
    const organization = await attestUser(a, medic, 'PRACTITIONER');
    const glass = await medic.client.request<{ breakGlass: { id: string; active: boolean } }>(BREAK_GLASS, {
      p: patient.address,
      r: REASON,
    });
    expect(glass.breakGlass).toMatchObject({ active: true });
    expect(glass.breakGlass.id).toMatch(/^bg-\d+$/);
    const read = await medic.client.request<{ record: { resource: { valueQuantity: { value: number } } } }>(
      READ,
      {
        id: recordId,
      },
    );
    expect(read.record.resource.valueQuantity.value).toBe(64);
    const trail = await patient.client.request<{
      auditTrail: { edges: { node: { actor: string; outcome: string } }[] };
    }>(`query ($p: String!) { auditTrail(patient: $p, first: 10) { edges { node { actor outcome } } } }`, {
      p: patient.address,
    });
    expect(trail.auditTrail.edges.map((e) => e.node)).toContainEqual({
      actor: medic.address.toLowerCase(),
      outcome: 'EMERGENCY',
    });

    // The same practitioner at node B, under the same break-glass (from the chain event).
    const medicAtB = await atB(medic);
    await waitFor(async () => codeOf(await medicAtB.client.send(READ, { id: recordId })) === 'OK', 20_000);

    // The organization revokes at node B (anyone relays its signature); both nodes refuse at once.
    const typed = await medicAtB.client.request<{ revokeAttestationTypedData: unknown }>(
      `query ($s: String!) { revokeAttestationTypedData(subject: $s) }`,
      { s: medic.address },
    );
    const signature = await signTypedData(organization, typed.revokeAttestationTypedData);
    const revoked = await medicAtB.client.request<{ revokeAttestation: { status: string } }>(
      `mutation ($s: String!, $sig: String) { revokeAttestation(subject: $s, signature: $sig) { status } }`,
      { s: medic.address, sig: signature },
    );
    expect(revoked.revokeAttestation.status).toBe('REVOKED');
    expect(codeOf(await medicAtB.client.send(READ, { id: recordId }))).toBe('FORBIDDEN');
    expect(codeOf(await medic.client.send(READ, { id: recordId }))).toBe('FORBIDDEN');
    const second = await patientWithRecord();
    const refused = await medic.client.send(BREAK_GLASS, { p: second.patient.address, r: REASON });
    expect(codeOf(refused)).toBe('FORBIDDEN');
    expect(refused.errors![0]!.message).toMatch(/attestation missing: .*revoked/);

    // An attestation that runs out stops working on time, at both nodes.
    const brief = await user(a, 'PRACTITIONER');
    await attestUser(a, brief, 'PRACTITIONER', { expiresAt: new Date(Date.now() + 9_000) });
    const briefAtB = await atB(brief);
    const opened = await brief.client.send(BREAK_GLASS, { p: second.patient.address, r: REASON });
    expect(codeOf(opened)).toBe('OK');
    await waitFor(
      async () => codeOf(await briefAtB.client.send(READ, { id: second.recordId })) === 'OK',
      20_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 9_500));
    expect(codeOf(await brief.client.send(READ, { id: second.recordId }))).toBe('FORBIDDEN');
    expect(codeOf(await briefAtB.client.send(READ, { id: second.recordId }))).toBe('FORBIDDEN');
  }, 120_000);

  it('bounds: one open per chart, a daily cap, the patient ends it and can refuse it; alerts at the other node', async () => {
    const medic = await user(a, 'PRACTITIONER');
    const organization = await attestUser(a, medic, 'PRACTITIONER');
    const { patient, recordId } = await patientWithRecord();
    const first = await medic.client.request<{ breakGlass: { id: string } }>(BREAK_GLASS, {
      p: patient.address,
      r: REASON,
    });
    expect(codeOf(await medic.client.send(BREAK_GLASS, { p: patient.address, r: REASON }))).toBe('CONFLICT');

    // The patient ends it; the next read is FORBIDDEN at both nodes.
    const medicAtB = await atB(medic);
    await waitFor(async () => codeOf(await medicAtB.client.send(READ, { id: recordId })) === 'OK', 20_000);
    const ended = await patient.client.request<{ endBreakGlass: { active: boolean } }>(END_BREAK_GLASS, {
      id: first.breakGlass.id,
    });
    expect(ended.endBreakGlass.active).toBe(false);
    expect(codeOf(await medic.client.send(READ, { id: recordId }))).toBe('FORBIDDEN');
    expect(codeOf(await medicAtB.client.send(READ, { id: recordId }))).toBe('FORBIDDEN');
    // Someone else's break-glass cannot be ended by a stranger.
    const stranger = await user(a, 'PATIENT');
    expect(codeOf(await stranger.client.send(END_BREAK_GLASS, { id: first.breakGlass.id }))).toBe(
      'NOT_FOUND',
    );

    // Node A's cap is 3 a day per practitioner: the first, then two more, then RATE_LIMITED.
    for (let i = 0; i < 2; i += 1) {
      const other = await patientWithRecord();
      expect(codeOf(await medic.client.send(BREAK_GLASS, { p: other.patient.address, r: REASON }))).toBe(
        'OK',
      );
    }
    const capped = await medic.client.send(BREAK_GLASS, {
      p: (await patientWithRecord()).patient.address,
      r: REASON,
    });
    expect(codeOf(capped)).toBe('RATE_LIMITED');
    expect(capped.errors![0]!.extensions!.retryAfter).toBeGreaterThan(22 * 3600);

    // A patient who refuses break-glass by a signed policy: refused for another attested practitioner.
    const careful = await patientWithRecord();
    const typed = await careful.patient.client.request<{ breakGlassPolicyTypedData: unknown }>(
      `query ($p: String!) { breakGlassPolicyTypedData(patient: $p, refuse: true) }`,
      { p: careful.patient.address },
    );
    const forged = await careful.patient.client.send(
      `mutation ($p: String!, $s: String!) { setBreakGlassPolicy(patient: $p, refuse: true, signature: $s) { refuse } }`,
      { p: careful.patient.address, s: await signTypedData(newIdentity(), typed.breakGlassPolicyTypedData) },
    );
    expect(codeOf(forged)).toBe('FORBIDDEN');
    await careful.patient.client.request(
      `mutation ($p: String!, $s: String!) { setBreakGlassPolicy(patient: $p, refuse: true, signature: $s) { refuse } }`,
      {
        p: careful.patient.address,
        s: await signTypedData(careful.patient.identity, typed.breakGlassPolicyTypedData),
      },
    );
    const colleague = await user(a, 'PRACTITIONER');
    await attestUser(a, colleague, 'PRACTITIONER', { organization });
    const denied = await colleague.client.send(BREAK_GLASS, { p: careful.patient.address, r: REASON });
    expect(codeOf(denied)).toBe('FORBIDDEN');
    expect(denied.errors![0]!.message).toMatch(/refuses break-glass/);

    // The patient's alerts at node B list the break-glass (from chain events) and its end, newest first.
    const patientAtB = await atB(patient);
    let kinds: string[] = [];
    await waitFor(async () => {
      const { alerts } = await patientAtB.client.request<{
        alerts: {
          edges: {
            node: { kind: string; actor: string; grantId: string | null; organization: string | null };
          }[];
        };
      }>(ALERTS, { p: patient.address });
      kinds = alerts.edges.map((e) => e.node.kind);
      if (kinds.length < 2) return false;
      expect(alerts.edges.find((e) => e.node.kind === 'BREAK_GLASS')!.node).toMatchObject({
        actor: medic.address,
        grantId: first.breakGlass.id,
        organization: organization.wallet.address,
      });
      return true;
    }, 20_000);
    // Newest first: the end after the opening (B's own denial of the read after the end is listed too).
    expect(kinds.filter((kind) => kind.startsWith('BREAK_GLASS'))).toEqual([
      'BREAK_GLASS_ENDED',
      'BREAK_GLASS',
    ]);
    expect(kinds).toContain('DENIED');
    // Only the patient may list them.
    expect(codeOf(await medicAtB.client.send(ALERTS, { p: patient.address }))).toBe('FORBIDDEN');
    // At node A: the reason is kept with the alert; denied attempts are listed too, and pages continue.
    const { alerts } = await patient.client.request<{
      alerts: { edges: { node: { kind: string; reason: string | null } }[]; pageInfo: { endCursor: string } };
    }>(ALERTS, { p: patient.address, first: 10 });
    expect(alerts.edges.find((e) => e.node.kind === 'BREAK_GLASS')!.node.reason).toBe(REASON);
    expect(alerts.edges.map((e) => e.node.kind)).toContain('DENIED');
    const firstTwo = await patient.client.request<{
      alerts: {
        edges: { cursor: string; node: { kind: string } }[];
        pageInfo: { endCursor: string; hasNextPage: boolean };
      };
    }>(ALERTS, { p: patient.address, first: 2 });
    expect(firstTwo.alerts.pageInfo.hasNextPage).toBe(true);
    const rest = await patient.client.request<{ alerts: { edges: { node: { kind: string } }[] } }>(ALERTS, {
      p: patient.address,
      first: 10,
      after: firstTwo.alerts.pageInfo.endCursor,
    });
    expect([...firstTwo.alerts.edges, ...rest.alerts.edges].map((e) => e.node.kind)).toEqual(
      alerts.edges.map((e) => e.node.kind),
    );
  }, 180_000);

  it('training needs an attested ANALYST; a self-declared one is told the attestation is missing', async () => {
    const analyst = await user(a, 'ANALYST');
    const START = `mutation { startTraining(dataset: "cleveland", algorithm: "gnb") { id } }`;
    const refused = await analyst.client.send(START);
    expect(codeOf(refused)).toBe('FORBIDDEN');
    expect(refused.errors![0]!.message).toMatch(/attestation missing/);
  });
});
