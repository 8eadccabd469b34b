/**
 * The README's five-minute walkthrough as a program: make keys, register as a patient, log in,
 * add a signed Observation, read it back decrypted, and check its anchor on chain.
 *
 *   npm run build && node dist/examples/walkthrough.js [http://127.0.0.1:4000/graphql] [--key FILE]
 *
 * With `--key FILE` (a key file from `omnichart keygen`) it uses those keys instead of fresh ones, so
 * the chart can be exported afterwards with `omnichart export --key FILE`.
 */
import {
  OmnichartClient,
  READ_RECORD,
  VERIFY_RECORD,
  addSignedRecord,
  identityFromKeyFile,
  login,
  newIdentity,
  register,
} from './client.js';

const args = process.argv.slice(2);
const keyAt = args.indexOf('--key');
const keyFile = keyAt >= 0 ? args.splice(keyAt, 2)[1] : undefined;
const url = args[0] ?? process.env.OMNICHART_URL ?? 'http://127.0.0.1:4000/graphql';
const client = new OmnichartClient(url);

const patient = keyFile ? await identityFromKeyFile(keyFile) : newIdentity();
console.log(`1. keys ${keyFile ? `loaded from ${keyFile}` : 'made'}: address ${patient.wallet.address}`);

await register(client, patient, 'PATIENT', 'Walkthrough Patient');
console.log('2. registered as PATIENT (box key anchored on chain)');

await login(client, patient);
console.log('3. logged in with Sign-In with Ethereum; bearer token received');

const observation = {
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
  subject: { reference: 'Patient/walkthrough' },
  effectiveDateTime: new Date().toISOString(),
  valueQuantity: { value: 72, unit: 'beats/minute', system: 'http://unitsofmeasure.org', code: '/min' },
};
// Signed by the patient's wallet (EIP-712 over record id, version, type and content hash), so every
// node that shows this version can check who wrote it.
const written = await addSignedRecord(client, patient, patient.wallet.address, observation);
if (!written.data) throw new Error(`addRecord failed: ${JSON.stringify(written.errors)}`);
const { addRecord } = written.data;
console.log(
  `4. Observation signed and stored encrypted: record ${addRecord.id}, IPFS CID ${addRecord.cid}, ` +
    `author verified: ${addRecord.authorVerified}`,
);

const { record } = await client.request<{ record: { resource: unknown; anchor: { status: string } } }>(
  READ_RECORD,
  { id: addRecord.id },
);
const same = JSON.stringify(record.resource) === JSON.stringify(observation);
console.log(`5. read back and decrypted: ${same ? 'identical to what was written' : 'DIFFERENT'}`);

let proof: { verified: boolean; anchorTx: string | null } = { verified: false, anchorTx: null };
for (let attempt = 0; attempt < 50 && !proof.verified; attempt += 1) {
  ({ verifyRecord: proof } = await client.request<{ verifyRecord: typeof proof }>(VERIFY_RECORD, {
    id: addRecord.id,
  }));
  if (!proof.verified) await new Promise((resolve) => setTimeout(resolve, 200));
}
console.log(
  `6. anchor: ${proof.verified ? `verified in transaction ${proof.anchorTx}` : 'not anchored yet'}`,
);
process.exit(same && proof.verified && addRecord.authorVerified ? 0 : 1);
