/**
 * Timeline first-page latency for a patient with 1,000 records, over real HTTP: metadata only, and
 * with each node's decrypted resource (DataLoader: one version query, parallel decryption).
 *
 *   npm run bench:timeline     (embedded Postgres, or DATABASE_URL when set)
 */
import '../src/polyfills.js';
import os from 'node:os';
import { OmnichartClient, login, newIdentity, register } from '../examples/client.js';
import { startBenchNode } from './bench-node.js';
import { measure, printResults } from './stats.js';

const RECORDS = Number(process.env.BENCH_TIMELINE_RECORDS ?? 1_000);
const REQUESTS = Number(process.env.BENCH_TIMELINE_REQUESTS ?? 500);
const IMPORT = `mutation ($patient: String!, $bundle: JSON!) { importBundle(patient: $patient, bundle: $bundle) { created written } }`;
const PAGE = `query ($patient: String!, $types: [String!], $code: String) {
  phr(patient: $patient) {
    timeline(first: 20, types: $types, code: $code) {
      edges { cursor node { id resourceType effectiveAt version } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;
const PAGE_WITH_RESOURCES = `query ($patient: String!) {
  phr(patient: $patient) { timeline(first: 20) { edges { cursor node { id resource } } pageInfo { hasNextPage endCursor } } }
}`;
const SUMMARY = `query ($patient: String!) {
  phr(patient: $patient) { summary { total counts { resourceType count } vitalSigns { kind value unit effectiveAt } } }
}`;
const CODES = [
  ['29463-7', 'kg', 70],
  ['8867-4', '/min', 72],
  ['8302-2', 'cm', 175],
  ['8310-5', 'Cel', 37],
] as const;

function entry(i: number) {
  const [code, unit, value] = CODES[i % CODES.length];
  const effective = new Date(Date.UTC(2010, 0, 1) + i * 86_400_000).toISOString();
  return {
    fullUrl: `urn:uuid:00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    resource:
      i % 10 === 9
        ? {
            resourceType: 'Immunization',
            id: `imm-${i}`,
            status: 'completed',
            patient: { reference: 'Patient/p' },
            vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '140' }] },
            occurrenceDateTime: effective,
          }
        : {
            resourceType: 'Observation',
            id: `obs-${i}`,
            status: 'final',
            subject: { reference: 'Patient/p' },
            code: { coding: [{ system: 'http://loinc.org', code }] },
            effectiveDateTime: effective,
            valueQuantity: { value: value + (i % 7), unit, system: 'http://unitsofmeasure.org', code: unit },
          },
  };
}

const bench = await startBenchNode('timeline');
const { node } = bench;
try {
  console.log(
    `Omnichart timeline benchmark: node ${process.version}, ${os.cpus().length} cores, ` +
      `${node.database.embedded ? 'embedded' : 'external'} Postgres, ${RECORDS} records, ${REQUESTS} requests per row`,
  );
  const client = new OmnichartClient(node.url);
  const patient = newIdentity();
  await register(client, patient, 'PATIENT', 'Bench Patient');
  await login(client, patient);
  const address = patient.wallet.address;
  for (let i = 0; i < RECORDS; i += 500) {
    const entries = Array.from({ length: Math.min(500, RECORDS - i) }, (_, j) => entry(i + j));
    await client.request(IMPORT, {
      patient: address,
      bundle: { resourceType: 'Bundle', type: 'collection', entry: entries },
    });
  }
  await node.anchorQueue.drained();
  for (let i = 0; i < 50; i += 1) await client.request(PAGE, { patient: address }); // warm-up

  const rows = [
    await measure('timeline first page (20)', REQUESTS, 1, () => client.request(PAGE, { patient: address })),
    await measure('  filtered: types', REQUESTS, 1, () =>
      client.request(PAGE, { patient: address, types: ['Immunization'] }),
    ),
    await measure('  filtered: code', REQUESTS, 1, () =>
      client.request(PAGE, { patient: address, code: 'http://loinc.org|8867-4' }),
    ),
    await measure('  with 20 decrypted resources', REQUESTS, 1, () =>
      client.request(PAGE_WITH_RESOURCES, { patient: address }),
    ),
    await measure('timeline first page (20)', REQUESTS, 8, () => client.request(PAGE, { patient: address })),
    await measure('summary (decrypts latest vitals)', Math.min(REQUESTS, 200), 1, () =>
      client.request(SUMMARY, { patient: address }),
    ),
  ];
  printResults('Timeline and summary latency (goal: first page p99 < 30 ms)', rows);
} finally {
  await bench.close();
}
