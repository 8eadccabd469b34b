import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { CID } from 'multiformats/cid';
import { ADD_RECORD, READ_RECORD, VERIFY_RECORD } from '../../examples/client.js';
import { RecordVersionEntity } from '../../src/storage/entities/index.js';
import { cidOf } from '../../src/storage/helia-content-store.js';
import { stopTestDatabaseServer } from '../helpers/test-database.js';
import { signIn, startTestNode, type SignedInUser, type TestNode } from '../helpers/test-node.js';

const fixtures = path.join(import.meta.dirname, '..', 'fixtures', 'fhir');
const samples = readdirSync(fixtures)
  .filter((name) => /^[A-Z][A-Za-z]+-[\w-]+\.json$/.test(name) && !name.startsWith('Bundle-'))
  .map((name) => ({ name, resource: JSON.parse(readFileSync(path.join(fixtures, name), 'utf8')) }));

type Added = { addRecord: { id: string; cid: string; version: number; anchor: { status: string } } };
type Read = { record: { resource: unknown; cid: string; anchor: { status: string; txHash: string | null } } };
type Proof = {
  verifyRecord: {
    verified: boolean;
    decrypts: boolean;
    contentMatchesCid: boolean;
    anchorMatches: boolean;
    chainCid: string | null;
    cid: string;
  };
};

describe('records through the real HTTP endpoint', () => {
  let test: TestNode;
  let patient: SignedInUser;

  beforeAll(async () => {
    test = await startTestNode();
    patient = await signIn(test, 'PATIENT');
  });

  afterAll(async () => {
    await test?.close();
    await stopTestDatabaseServer();
  });

  it('has the official FHIR examples to test with', () => {
    expect(samples.length).toBe(8);
  });

  it('reads back every official example exactly as written, with a CID and an anchor', async () => {
    const ids: string[] = [];
    for (const { resource } of samples) {
      const { addRecord } = await patient.client.request<Added>(ADD_RECORD, {
        patient: patient.address,
        resource,
      });
      expect(addRecord.version).toBe(1);
      expect(CID.parse(addRecord.cid).version).toBe(0);
      ids.push(addRecord.id);
    }
    await test.node.anchorQueue.drained();
    for (const [index, id] of ids.entries()) {
      const { record } = await patient.client.request<Read>(READ_RECORD, { id });
      expect(record.resource).toEqual(samples[index].resource);
      expect(record.anchor.status).toBe('ANCHORED');
      expect(record.anchor.txHash).toMatch(/^0x[0-9a-f]{64}$/);
      const { verifyRecord } = await patient.client.request<Proof>(VERIFY_RECORD, { id });
      expect(verifyRecord).toMatchObject({
        verified: true,
        decrypts: true,
        contentMatchesCid: true,
        anchorMatches: true,
      });
      expect(verifyRecord.chainCid).toBe(record.cid);
    }
  });

  it('keeps no plaintext at rest: a marker in a record is in no IPFS block', async () => {
    const marker = `PLAINTEXT-MARKER-${Date.now()}-zq9`;
    const resource = {
      ...samples.find((s) => s.name === 'Observation-f001.json')!.resource,
      note: [{ text: marker }],
    };
    const { addRecord } = await patient.client.request<Added>(ADD_RECORD, {
      patient: patient.address,
      resource,
    });
    let blocks = 0;
    let found = 0;
    for await (const { bytes } of test.node.content.blocks()) {
      blocks += 1;
      if (Buffer.from(bytes).includes(marker)) found += 1;
    }
    expect(blocks).toBeGreaterThan(samples.length);
    expect(found).toBe(0);
    const { record } = await patient.client.request<Read>(READ_RECORD, { id: addRecord.id });
    expect(JSON.stringify(record.resource)).toContain(marker);
  });

  it('rejects a flipped ciphertext byte with INTEGRITY_ERROR and returns no data', async () => {
    const { addRecord } = await patient.client.request<Added>(ADD_RECORD, {
      patient: patient.address,
      resource: samples[0].resource,
    });
    const envelope = await test.node.content.get(CID.parse(addRecord.cid));
    const parsed = JSON.parse(Buffer.from(envelope).toString('utf8'));
    const ciphertext = Buffer.from(parsed.ciphertext, 'base64');
    ciphertext[Math.floor(ciphertext.length / 2)] ^= 0x01;
    parsed.ciphertext = ciphertext.toString('base64');
    const tampered = new Uint8Array(Buffer.from(JSON.stringify(parsed)));
    const tamperedCid = await test.node.content.put(tampered);
    expect(tamperedCid.toString()).toBe((await cidOf(tampered)).toString());
    // An attacker with database access points the record at the tampered envelope.
    await test.node.database.dataSource
      .getRepository(RecordVersionEntity)
      .update({ recordId: addRecord.id, version: 1 }, { cid: tamperedCid.toString() });

    const response = await patient.client.send<Read>(READ_RECORD, { id: addRecord.id });
    expect(response.errors?.[0]?.extensions?.code).toBe('INTEGRITY_ERROR');
    expect(response.data?.record ?? null).toBeNull();
    const { verifyRecord } = await patient.client.request<Proof>(VERIFY_RECORD, { id: addRecord.id });
    expect(verifyRecord).toMatchObject({ decrypts: false, contentMatchesCid: true, verified: false });
  });

  it('forbids another patient from reading the record', async () => {
    const { addRecord } = await patient.client.request<Added>(ADD_RECORD, {
      patient: patient.address,
      resource: samples[0].resource,
    });
    const stranger = await signIn(test, 'PATIENT');
    const read = await stranger.client.send<Read>(READ_RECORD, { id: addRecord.id });
    expect(read.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const write = await stranger.client.send<Added>(ADD_RECORD, {
      patient: patient.address,
      resource: samples[0].resource,
    });
    expect(write.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const anonymous = test.client();
    expect(
      (await anonymous.send<Read>(READ_RECORD, { id: addRecord.id })).errors?.[0]?.extensions?.code,
    ).toBe('UNAUTHENTICATED');
  });
});
