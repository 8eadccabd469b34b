/**
 * Cost of the policy check per request (self, a grantee whose access is audited, and the
 * attestation check of role-gated requests) measured in process, and grant / revoke latency end to end over GraphQL (sign, relay, mine, cache), beside a
 * baseline of the cheapest authenticated GraphQL round trip (`me`) in the same run.
 *
 *   npm run bench:consent     (embedded Postgres, or DATABASE_URL when set)
 */
import '../src/polyfills.js';
import { OmnichartClient, login, newIdentity, register, type Identity } from '../examples/client.js';
import { grantAccess as grant, revokeAccess as revoke } from '../examples/client.js';
import { attest } from '../examples/client.js';
import { startBenchNode } from './bench-node.js';
import { measure, printResults } from './stats.js';

const bench = await startBenchNode('consent');
const { node } = bench;
try {
  const signIn = async (
    role: 'PATIENT' | 'PRACTITIONER',
  ): Promise<{ identity: Identity; client: OmnichartClient }> => {
    const identity = newIdentity();
    const client = new OmnichartClient(node.url);
    await register(client, identity, role, `bench ${role}`);
    await login(client, identity);
    return { identity, client };
  };
  const patient = await signIn('PATIENT');
  const doctor = await signIn('PRACTITIONER');
  const patientAddress = patient.identity.wallet.address.toLowerCase();
  const doctorAddress = doctor.identity.wallet.address.toLowerCase();
  await grant(patient.client, {
    patient: patient.identity,
    grantee: doctor.identity.wallet.address,
    scopes: ['patient/*.rs'],
    expiresAt: new Date(Date.now() + 3_600_000),
  });
  const policy = node.services.policy;
  const self = { address: patientAddress, role: 'PATIENT' as const, sessionId: 'bench' };
  const grantee = { address: doctorAddress, role: 'PRACTITIONER' as const, sessionId: 'bench' };
  const toMicros = (r: Awaited<ReturnType<typeof measure>>) => ({
    ...r,
    p50: r.p50 * 1000,
    p95: r.p95 * 1000,
    p99: r.p99 * 1000,
  });

  const selfCheck = await measure('policy: patient on own chart', 20_000, 1, () =>
    policy.authorize({ caller: self, patient: patientAddress, action: 'read', resourceType: 'Observation' }),
  );
  const granteeCheck = await measure('policy: grantee (+ audit entry)', 1_000, 1, () =>
    policy.authorize({
      caller: grantee,
      patient: patientAddress,
      action: 'read',
      resourceType: 'Observation',
    }),
  );
  // The attestation check a role-gated request pays: catch up with the chain head, then read the
  // attestation and its organization from the cache; and the cache read alone.
  const organization = newIdentity();
  await node.ledger.admitOrganization(organization.wallet.address, true);
  await attest(doctor.client, {
    organization,
    subject: doctor.identity.wallet.address,
    role: 'PRACTITIONER',
    identifier: 'http://hl7.org/fhir/sid/us-npi|1234567893',
    expiresAt: new Date(Date.now() + 3_600_000),
  });
  const attestations = node.services.attestations;
  const attestedCheck = await measure('attestation: sync + check (role-gated request)', 2_000, 1, () =>
    attestations.requireAttested(grantee, 'PRACTITIONER'),
  );
  const cachedCheck = await measure('attestation: cache read only', 5_000, 1, () =>
    attestations.isAttested(doctorAddress, 'PRACTITIONER'),
  );
  printResults(
    'Policy check per request, in process',
    [toMicros(selfCheck), toMicros(granteeCheck), toMicros(attestedCheck), toMicros(cachedCheck)],
    undefined,
    'µs',
  );

  const baseline = await measure('baseline: me over GraphQL', 30, 1, () =>
    patient.client.request('{ me { address } }'),
  );
  let lastGrant = '';
  const grants = await measure('grantAccess end to end', 30, 1, async () => {
    const response = await grant(patient.client, {
      patient: patient.identity,
      grantee: doctor.identity.wallet.address,
      scopes: ['patient/Observation.rs'],
      expiresAt: new Date(Date.now() + 3_600_000),
    });
    lastGrant = response.data!.grantAccess.id;
  });
  const ids: string[] = [];
  for (let i = 0; i < 30; i += 1) {
    const response = await grant(patient.client, {
      patient: patient.identity,
      grantee: doctor.identity.wallet.address,
      scopes: ['patient/Condition.rs'],
      expiresAt: new Date(Date.now() + 3_600_000),
    });
    ids.push(response.data!.grantAccess.id);
  }
  const revokes = await measure('revokeAccess end to end', ids.length, 1, (i) =>
    revoke(patient.client, patient.identity, ids[i]),
  );
  console.log(`\n(last grant id ${lastGrant})`);
  printResults(
    'Grant and revoke over GraphQL (typed data + wallet signature + relay + mined + cached), ms',
    [grants, revokes, baseline],
    new Map([['1', baseline]]),
  );
} finally {
  await bench.close();
}
