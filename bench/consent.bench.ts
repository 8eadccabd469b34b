/**
 * Cost of the policy check per request (self, a grantee whose access is audited, and the
 * attestation check of role-gated requests) measured in process, and grant / revoke latency end to
 * end over GraphQL (sign, relay, mine, cache), beside a baseline of the cheapest authenticated
 * GraphQL round trip (`me`) in the same run. Then a grant on a large chart (a Synthea-shaped history
 * of BENCH_CHART_ENTRIES records, default 3,000): the first grant to a grantee wraps every covered
 * record's key for it, a second grant to the same grantee finds every record already openable.
 *
 *   npm run bench:consent     (embedded Postgres, or DATABASE_URL when set)
 */
import '../src/polyfills.js';
import { OmnichartClient, login, newIdentity, register, type Identity } from '../examples/client.js';
import { grantAccess as grant, revokeAccess as revoke } from '../examples/client.js';
import { attest } from '../examples/client.js';
import { startBenchNode } from './bench-node.js';
import { measure, printResults } from './stats.js';
import { loadHistories, syntheaBundle } from './synthea-corpus.js';

const CHART_ENTRIES = Number(process.env.BENCH_CHART_ENTRIES ?? 3000);
const LARGE_CHART_GRANTS = Number(process.env.BENCH_CHART_GRANTS ?? 3);

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
  // A care provider's reads of one chart arrive together: each is audited before it is answered.
  const granteeChecks32 = await measure('policy: grantee (+ audit), 32 at once', 4_000, 32, () =>
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
    [
      toMicros(selfCheck),
      toMicros(granteeCheck),
      toMicros(granteeChecks32),
      toMicros(attestedCheck),
      toMicros(cachedCheck),
    ],
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

  // A grant on a large chart: its time is the key sharing over every covered record.
  const chartOwner = await signIn('PATIENT');
  const bundle = syntheaBundle(loadHistories(), CHART_ENTRIES);
  const imported = await chartOwner.client.request<{ importBundle: { created: number } }>(
    `mutation ($patient: String!, $bundle: JSON!) { importBundle(patient: $patient, bundle: $bundle) { created } }`,
    { patient: chartOwner.identity.wallet.address, bundle },
  );
  const records = imported.importBundle.created;
  const grantees = await Promise.all(
    Array.from({ length: LARGE_CHART_GRANTS }, () => signIn('PRACTITIONER')),
  );
  const grantOnChart = (i: number) =>
    grant(chartOwner.client, {
      patient: chartOwner.identity,
      grantee: grantees[i].identity.wallet.address,
      scopes: ['patient/*.rs'],
      expiresAt: new Date(Date.now() + 3_600_000),
    }).then((response) => {
      if (!response.data?.grantAccess.active) throw new Error(`grant refused: ${JSON.stringify(response)}`);
    });
  const firstGrants = await measure(
    `first grant, ${records} records to wrap`,
    grantees.length,
    1,
    grantOnChart,
  );
  const repeatGrants = await measure(
    `second grant, ${records} already openable`,
    grantees.length,
    1,
    grantOnChart,
  );
  printResults(
    `Grant on a chart of ${records} records (${CHART_ENTRIES}-entry Synthea-shaped history), ms`,
    [firstGrants, repeatGrants, grants],
    new Map([['1', grants]]),
  );
  for (const run of [firstGrants, repeatGrants]) {
    console.log(`  ${run.label}: ${((records / run.p50) * 1000).toFixed(0)} records/s at p50`);
  }
} finally {
  await bench.close();
}
