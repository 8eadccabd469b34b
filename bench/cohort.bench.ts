/**
 * cohortStatistics over real HTTP for a research cohort of consenting patients (the 30 Synthea
 * charts of test/fixtures, reused round-robin): what one query costs (grants read, metadata of every
 * chart, one Patient record decrypted per patient, one audit entry per patient), beside `{ me }` on
 * the same node as the baseline.
 *
 *   npm run bench:cohort       (BENCH_COHORT_PATIENTS, default 100; embedded Postgres or DATABASE_URL)
 */
import '../src/polyfills.js';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OmnichartClient, attest, grantAccess, login, newIdentity, register } from '../examples/client.js';
import { startBenchNode } from './bench-node.js';
import { measure, printResults } from './stats.js';

const PATIENTS = Number(process.env.BENCH_COHORT_PATIENTS ?? 100);
const REQUESTS = Number(process.env.BENCH_COHORT_REQUESTS ?? 200);
const FIXTURE = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../test/fixtures/synthea/research-cohort-30.json.bz2',
);
const IMPORT = `mutation ($patient: String!, $bundle: JSON!) { importBundle(patient: $patient, bundle: $bundle) { written } }`;
const COHORT = `query ($input: CohortQueryInput!) {
  cohortStatistics(input: $input) { cohortSize cells { condition sex ageBand patients count rate suppressed } }
}`;
const INPUT = {
  conditions: ['http://snomed.info/sct|840539006', 'http://snomed.info/sct|386661006'],
  groupBy: ['SEX', 'AGE_BAND'],
};

const bundles = JSON.parse(execFileSync('bzcat', [FIXTURE], { maxBuffer: 64 << 20 }).toString()) as unknown[];
const bench = await startBenchNode('cohort');
const { node } = bench;
try {
  console.log(
    `Omnichart cohort benchmark: node ${process.version}, ${os.cpus().length} cores, ` +
      `${node.database.embedded ? 'embedded' : 'external'} Postgres, ${PATIENTS} consenting patients`,
  );
  const organization = newIdentity();
  await register(new OmnichartClient(node.url), organization, 'ORGANIZATION', 'Bench research org');
  await node.ledger.admitOrganization(organization.wallet.address, true);
  const analyst = newIdentity();
  const client = new OmnichartClient(node.url);
  await register(client, analyst, 'ANALYST', 'Bench analyst');
  await login(client, analyst);
  const attested = await attest(client, {
    organization,
    subject: analyst.wallet.address,
    role: 'ANALYST',
    identifier: 'http://hl7.org/fhir/sid/us-npi|1234567893',
    expiresAt: new Date(Date.now() + 24 * 3600_000),
  });
  if (attested.errors) throw new Error(JSON.stringify(attested.errors));
  for (let i = 0; i < PATIENTS; i += 1) {
    const patient = newIdentity();
    const patientClient = new OmnichartClient(node.url);
    await register(patientClient, patient, 'PATIENT', `Bench patient ${i}`);
    await login(patientClient, patient);
    await patientClient.request(IMPORT, {
      patient: patient.wallet.address,
      bundle: bundles[i % bundles.length],
    });
    const granted = await grantAccess(patientClient, {
      patient,
      grantee: organization.wallet.address,
      scopes: ['research'],
      expiresAt: new Date(Date.now() + 24 * 3600_000),
    });
    if (granted.errors) throw new Error(JSON.stringify(granted.errors));
  }
  const answer = await client.request<{ cohortStatistics: { cohortSize: number } }>(COHORT, { input: INPUT });
  if (answer.cohortStatistics.cohortSize !== PATIENTS) throw new Error('cohort size does not match');
  for (let i = 0; i < 10; i += 1) await client.request(COHORT, { input: INPUT }); // warm-up

  const me = `{ me { address } }`;
  const baseline = [
    await measure('{ me } (baseline)', REQUESTS * 5, 1, () => client.request(me)),
    await measure('{ me } (baseline)', REQUESTS * 5, 4, () => client.request(me)),
  ];
  const rows = [
    await measure(`cohortStatistics (${PATIENTS} pts)`, REQUESTS, 1, () =>
      client.request(COHORT, { input: INPUT }),
    ),
    await measure(`cohortStatistics (${PATIENTS} pts)`, REQUESTS, 4, () =>
      client.request(COHORT, { input: INPUT }),
    ),
  ];
  printResults('Baseline', baseline);
  printResults(
    'cohortStatistics: 2 conditions by sex and age band (24 cells each)',
    rows,
    new Map(baseline.map((row) => [`${row.concurrency}`, row])),
  );
} finally {
  await bench.close();
}
