import { cp, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { ClassicLevel } from 'classic-level';
import express from 'express';
import { CID } from 'multiformats/cid';
import { sha256 } from 'multiformats/hashes/sha2';
import nacl from 'tweetnacl';
import {
  ADD_RECORD,
  IMPORT_BUNDLE,
  OmnichartClient,
  READ_RECORD,
  identityFromKeyFile,
  login,
  register,
} from '../../examples/client.js';
import { peerRoutes } from '../../src/api/peer-routes.js';
import { loadFhirDefinitions, parseFhirResource } from '../../src/records/fhir-validation.js';
import { startAnvil, type AnvilProcess } from '../../src/ledger/anvil.js';
import { silentLogger } from '../../src/logger.js';
import { openContentStore } from '../../src/storage/helia-content-store.js';
import type { ContentStore } from '../../src/storage/content-store.js';
import { exited, startBuiltNode, type BuiltNode } from '../helpers/built-node.js';
import { runOmnichart } from '../helpers/omnichart-cli.js';
import { createTestDatabase } from '../helpers/test-database.js';

/*
 * Issue 11's export test: a patient registered with a `keygen` key file imports a Synthea bundle and
 * writes a record in two versions; the node stops, its database is dropped and its node key deleted;
 * `omnichart export` (the built command, a child process) then rebuilds the chart from chain + IPFS
 * with the patient's key alone, over a data dir and over an RPC + gateway.
 */

const syntheaFile = new URL('../fixtures/fhir/8a4c9c04-1524-9f1c-d65b-9b17e4520fef.json', import.meta.url)
  .pathname;
const synthea = JSON.parse(await readFile(syntheaFile, 'utf8')) as {
  entry: { fullUrl: string; resource: Record<string, unknown> }[];
};
const observationV1 = {
  resourceType: 'Observation',
  id: 'export-test-heart-rate',
  status: 'preliminary',
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
  effectiveDateTime: '2026-11-30T08:00:00Z',
  valueQuantity: { value: 72, unit: 'beats/minute', system: 'http://unitsofmeasure.org', code: '/min' },
};
const observationV2 = {
  ...observationV1,
  status: 'final',
  valueQuantity: { ...observationV1.valueQuantity, value: 74 },
};

interface ExportedBundle {
  resourceType: string;
  type: string;
  entry: {
    fullUrl: string;
    resource: Record<string, unknown>;
    extension: { url: string; extension: { url: string; valueString?: string; valueInteger?: number }[] }[];
  }[];
}

const anchorPart = (entry: ExportedBundle['entry'][number], url: string) =>
  entry.extension[0].extension.find((e) => e.url === url);

let work: string;
let dataDir: string;
let keyFile: string;
let observationRecordId: string;
let node: BuiltNode | undefined;
let dropDatabase: (() => Promise<void>) | undefined;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'omnichart-export-test-'));
  dataDir = path.join(work, 'node');
  keyFile = path.join(work, 'patient.json');
  expect((await runOmnichart(['keygen', '--out', keyFile])).code).toBe(0);

  const database = await createTestDatabase();
  dropDatabase = database.drop;
  node = await startBuiltNode(dataDir, { env: { DATABASE_URL: database.url } });
  const client = new OmnichartClient(node.url);
  const patient = await identityFromKeyFile(keyFile);
  await register(client, patient, 'PATIENT', 'Export Patient');
  await login(client, patient);
  const address = patient.wallet.address;

  // Imported with the command (`omnichart import`); importing again over GraphQL changes nothing and
  // names the records.
  const cliImport = await runOmnichart([
    'import',
    '--url',
    node.url,
    '--token',
    client.token!,
    '--patient',
    address,
    syntheaFile,
  ]);
  expect(cliImport.stdout).toMatch(
    /1 bundle\(s\), 66 resources in .* s: 66 created, 0 updated, 0 unchanged, 0 bundle\(s\) refused/,
  );
  expect(cliImport.code).toBe(0);
  const imported = await client.request<{
    importBundle: { unchanged: number; entries: { recordId: string }[] };
  }>(IMPORT_BUNDLE, { patient: address, bundle: synthea });
  expect(imported.importBundle.unchanged).toBe(66);
  const v1 = await client.request<{ addRecord: { id: string; version: number } }>(ADD_RECORD, {
    patient: address,
    resource: observationV1,
  });
  const v2 = await client.request<{ addRecord: { id: string; version: number } }>(ADD_RECORD, {
    patient: address,
    resource: observationV2,
  });
  expect(v2.addRecord).toEqual({ ...v2.addRecord, id: v1.addRecord.id, version: 2 });
  observationRecordId = v1.addRecord.id;

  // Every version anchored before the node stops (the anchor queue would resend after a restart,
  // but this node never starts again).
  const ids = [...imported.importBundle.entries.map((e) => e.recordId), observationRecordId];
  for (let attempt = 0; ; attempt += 1) {
    const statuses = await Promise.all(
      ids.map(async (id) => {
        const { record } = await client.request<{
          record: { anchor: { status: string }; history: { anchor: { status: string } }[] };
        }>(READ_RECORD, { id });
        return record.history.every((h) => h.anchor.status === 'ANCHORED');
      }),
    );
    if (statuses.every(Boolean)) break;
    if (attempt > 200) throw new Error('records were not anchored in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  // While the node runs, its data dir is refused (it may be changing under the copy).
  const refused = await runOmnichart([
    'export',
    '--key',
    keyFile,
    '--out',
    path.join(work, 'no.json'),
    '--data-dir',
    dataDir,
  ]);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(/is still running/);

  node.child.kill('SIGTERM');
  expect(await exited(node.child)).toBe(0);
  node = undefined;
  // Nothing of the node's own state is left but the chain and the blockstore.
  await database.drop();
  dropDatabase = undefined;
  await rm(path.join(dataDir, 'node-keys.json'));
  await rm(path.join(dataDir, 'passphrase'));
}, 300_000);

afterAll(async () => {
  if (node) {
    node.child.kill('SIGKILL');
    await exited(node.child);
  }
  await dropDatabase?.();
  await rm(work, { recursive: true, force: true });
});

/** What the patient wrote, by the fullUrl the export gives it. */
function expectedLatest(): Map<string, unknown> {
  const expected = new Map<string, unknown>(synthea.entry.map((e) => [e.fullUrl, e.resource]));
  expected.set(`urn:uuid:${observationRecordId}`, observationV2);
  return expected;
}

async function exportFrom(sourceArgs: string[], name: string, extra: string[] = []) {
  const out = path.join(work, `${name}.json`);
  const summaryFile = path.join(work, `${name}.summary.json`);
  const result = await runOmnichart([
    'export',
    '--key',
    keyFile,
    '--out',
    out,
    '--summary',
    summaryFile,
    ...sourceArgs,
    ...extra,
  ]);
  const bundle = result.code === 2 ? null : (JSON.parse(await readFile(out, 'utf8')) as ExportedBundle);
  const summary = result.code === 2 ? null : JSON.parse(await readFile(summaryFile, 'utf8'));
  return { ...result, out, bundle, summary };
}

function expectWholeChart(bundle: ExportedBundle) {
  expect(bundle.resourceType).toBe('Bundle');
  expect(bundle.type).toBe('collection');
  const expected = expectedLatest();
  expect(bundle.entry).toHaveLength(expected.size);
  for (const entry of bundle.entry) expect(entry.resource).toEqual(expected.get(entry.fullUrl));
  expect(new Set(bundle.entry.map((e) => e.fullUrl))).toEqual(new Set(expected.keys()));
  // The export is itself valid FHIR R4 (the anchor extensions included).
  loadFhirDefinitions();
  expect(() =>
    parseFhirResource(bundle, { maxResourceBytes: 64 * 1024 * 1024, maxJsonDepth: 64 }),
  ).not.toThrow();
}

describe('omnichart export without the node', () => {
  it('exports every resource as written from the stopped node’s data dir', async () => {
    const result = await exportFrom(['--data-dir', dataDir], 'data-dir');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expectWholeChart(result.bundle!);
    expect(result.summary).toMatchObject({
      records: 67,
      versions: 68,
      verified: 67,
      failed: [],
      entries: 67,
    });
    expect(result.stdout).toMatch(/records 67, versions 68, verified 67, failed 0/);
    expect((await stat(result.out)).mode & 0o777).toBe(0o600);
    // The data dir was only read: no lock, no anvil pid, no new files.
    await expect(stat(path.join(dataDir, 'node.lock'))).rejects.toThrow();
    await expect(stat(path.join(dataDir, 'chain', 'anvil.pid'))).rejects.toThrow();
  });

  it('exports every version with --all-versions, oldest first', async () => {
    const result = await exportFrom(['--data-dir', dataDir], 'all-versions', ['--all-versions']);
    expect(result.code).toBe(0);
    const observation = result.bundle!.entry.filter(
      (e) => anchorPart(e, 'recordId')?.valueString === observationRecordId,
    );
    expect(observation.map((e) => e.resource)).toEqual([observationV1, observationV2]);
    expect(observation.map((e) => anchorPart(e, 'version')?.valueInteger)).toEqual([1, 2]);
    expect(result.bundle!.entry).toHaveLength(68);
    const verified = await runOmnichart(['verify', result.out, '--key', keyFile, '--data-dir', dataDir]);
    expect(verified.stdout).toMatch(/entries 68, verified 68, not verified 0/);
    expect(verified.code).toBe(0);
  });

  describe('over a chain RPC and a trustless gateway', () => {
    let anvil: AnvilProcess;
    let contract: string;
    let content: ContentStore;
    let gateway: Server;
    let gatewayUrl: string;

    beforeAll(async () => {
      // A throwaway chain on a copy of the node's chain state, and a gateway on a copy of its blocks
      // serving them through the node's own /ipfs route.
      const copy = path.join(work, 'served');
      await cp(path.join(dataDir, 'chain'), path.join(copy, 'chain'), { recursive: true });
      await cp(path.join(dataDir, 'blocks'), path.join(copy, 'blocks'), { recursive: true });
      anvil = await startAnvil({ stateDir: path.join(copy, 'chain'), logger: silentLogger });
      contract = JSON.parse(await readFile(path.join(copy, 'chain', 'deployment.json'), 'utf8')).address;
      content = await openContentStore({ blockstoreDir: path.join(copy, 'blocks') });
      const app = express().use(
        peerRoutes(
          {
            nodeInfo: () => ({ relayerAddress: '', chainId: '31337', contractAddress: contract }),
            localContent: async (cid) => ((await content.has(cid)) ? content.get(cid) : null),
            localBlock: (cid) => content.block(cid),
          },
          silentLogger,
        ),
      );
      gateway = createServer(app);
      await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
      gatewayUrl = `http://127.0.0.1:${(gateway.address() as { port: number }).port}`;
    });

    afterAll(async () => {
      await new Promise((resolve) => gateway?.close(resolve));
      await content?.close();
      await anvil?.stop();
    });

    it('exports the same chart, and verify accepts it', async () => {
      const sources = ['--rpc', anvil.rpcUrl, '--contract', contract, '--ipfs', gatewayUrl];
      const result = await exportFrom(sources, 'rpc');
      expect(result.code).toBe(0);
      expectWholeChart(result.bundle!);

      const verified = await runOmnichart(['verify', result.out, '--key', keyFile, ...sources]);
      expect(verified.stdout).toMatch(/entries 67, verified 67, not verified 0/);
      expect(verified.code).toBe(0);

      // An export whose content was changed afterwards no longer verifies.
      const tampered = structuredClone(result.bundle!);
      const index = tampered.entry.findIndex((e) => e.fullUrl === `urn:uuid:${observationRecordId}`);
      (tampered.entry[index].resource.valueQuantity as { value: number }).value = 99;
      const tamperedFile = path.join(work, 'tampered.json');
      await writeFile(tamperedFile, JSON.stringify(tampered));
      const refused = await runOmnichart(['verify', tamperedFile, '--key', keyFile, ...sources]);
      expect(refused.code).toBe(1);
      expect(refused.stdout).toContain(`entry ${index} ${observationRecordId} v2: CONTENT_CHANGED`);
      expect(refused.stdout).toMatch(/entries 67, verified 66, not verified 1/);
    });

    it('refuses another patient’s key file and a mismatched box key, decrypting nothing', async () => {
      const sources = ['--rpc', anvil.rpcUrl, '--contract', contract, '--ipfs', gatewayUrl];
      const stranger = path.join(work, 'stranger.json');
      expect((await runOmnichart(['keygen', '--out', stranger])).code).toBe(0);
      const out = path.join(work, 'stranger-export.json');
      const unregistered = await runOmnichart(['export', '--key', stranger, '--out', out, ...sources]);
      expect(unregistered.code).toBe(1);
      expect(unregistered.stderr).toMatch(
        /no account is registered on chain 31337 .* wrong key file or wrong chain/,
      );
      await expect(stat(out)).rejects.toThrow();

      // The patient's Ethereum key with someone else's box key pair: the chain names another box key.
      const patient = JSON.parse(await readFile(keyFile, 'utf8'));
      const other = nacl.box.keyPair();
      const mixed = path.join(work, 'mixed.json');
      await writeFile(
        mixed,
        JSON.stringify({
          ...patient,
          boxPublicKey: Buffer.from(other.publicKey).toString('base64'),
          boxSecretKey: Buffer.from(other.secretKey).toString('base64'),
        }),
      );
      const wrongBox = await runOmnichart(['export', '--key', mixed, '--out', out, ...sources]);
      expect(wrongBox.code).toBe(1);
      expect(wrongBox.stderr).toContain(
        `the key file's boxPublicKey is not the box key registered on chain for ${patient.address}`,
      );
      expect(wrongBox.stderr).toContain('nothing was decrypted');
      await expect(stat(out)).rejects.toThrow();
    });

    it('exits 2 with one clear line for a malformed key file or bad arguments', async () => {
      const sources = ['--rpc', anvil.rpcUrl, '--contract', contract, '--ipfs', gatewayUrl];
      const out = path.join(work, 'never.json');
      const cases: [string, RegExp][] = [
        ['{"address": "0x12"', /malformed key file .*: not JSON/],
        [
          JSON.stringify({ address: '0x0', privateKey: '0x1' }),
          /expected exactly the fields address, boxPublicKey, boxSecretKey, privateKey/,
        ],
      ];
      const patient = JSON.parse(await readFile(keyFile, 'utf8'));
      cases.push([
        JSON.stringify({ ...patient, address: '0x000000000000000000000000000000000000dEaD' }),
        /address is not the private key's address/,
      ]);
      cases.push([
        JSON.stringify({ ...patient, boxPublicKey: Buffer.alloc(32, 9).toString('base64') }),
        /boxPublicKey is not the public key of boxSecretKey/,
      ]);
      for (const [text, message] of cases) {
        const file = path.join(work, 'malformed.json');
        await writeFile(file, text);
        const result = await runOmnichart(['export', '--key', file, '--out', out, ...sources]);
        expect(result.code).toBe(2);
        expect(result.stderr.split('\n')[0]).toMatch(message);
      }
      const both = await runOmnichart([
        'export',
        '--key',
        keyFile,
        '--out',
        out,
        '--data-dir',
        dataDir,
        '--rpc',
        anvil.rpcUrl,
      ]);
      expect(both.code).toBe(2);
      expect(both.stderr).toMatch(/give either --data-dir or --rpc\/--contract\/--ipfs, not both/);
      const missing = await runOmnichart(['export', '--key', keyFile, '--out', out, '--rpc', anvil.rpcUrl]);
      expect(missing.code).toBe(2);
      await expect(stat(out)).rejects.toThrow();
    });
  });

  describe('with one block corrupted', () => {
    let corruptDir: string;
    let corruptedCid: CID;

    beforeAll(async () => {
      corruptDir = path.join(work, 'corrupt');
      await cp(path.join(dataDir, 'chain'), path.join(corruptDir, 'chain'), { recursive: true });
      await cp(path.join(dataDir, 'blocks'), path.join(corruptDir, 'blocks'), { recursive: true });
      const exported = JSON.parse(await readFile(path.join(work, 'data-dir.json'), 'utf8')) as ExportedBundle;
      const entry = exported.entry.find((e) => e.fullUrl === `urn:uuid:${observationRecordId}`)!;
      corruptedCid = CID.parse(anchorPart(entry, 'cid')!.valueString!);
      // One byte flipped in the stored block, beneath the blockstore's own API.
      const db = new ClassicLevel<Uint8Array, Uint8Array>(path.join(corruptDir, 'blocks'), {
        keyEncoding: 'view',
        valueEncoding: 'view',
      });
      await db.open();
      const block = Uint8Array.from((await db.get(corruptedCid.bytes))!);
      block[Math.floor(block.length / 2)] ^= 0x01;
      await db.put(corruptedCid.bytes, block, { sync: true });
      await db.close();
    });

    it('reports that record, leaves it out, exports the others and exits non-zero', async () => {
      const result = await exportFrom(['--data-dir', corruptDir], 'corrupt');
      expect(result.code).toBe(1);
      expect(result.summary.failed).toEqual([
        expect.objectContaining({
          recordId: observationRecordId,
          version: 2,
          cid: corruptedCid.toString(),
          reason: 'BLOCK_CORRUPT',
        }),
      ]);
      expect(result.summary).toMatchObject({ records: 67, verified: 66, entries: 66 });
      expect(result.stdout).toContain(`failed ${observationRecordId} v2 ${corruptedCid}: BLOCK_CORRUPT`);
      const expected = expectedLatest();
      expected.delete(`urn:uuid:${observationRecordId}`);
      expect(result.bundle!.entry).toHaveLength(66);
      for (const entry of result.bundle!.entry) expect(entry.resource).toEqual(expected.get(entry.fullUrl));
    });

    it('catches the same block from a gateway that serves it as stored', async () => {
      // A gateway that does no checking of its own (as a tampered one would): the command re-hashes.
      const db = new ClassicLevel<Uint8Array, Uint8Array>(path.join(corruptDir, 'blocks'), {
        keyEncoding: 'view',
        valueEncoding: 'view',
      });
      await db.open();
      const requests: string[] = [];
      const server = createServer(async (req, res) => {
        requests.push(`${req.url} ${req.headers.accept}`);
        const cid = CID.parse(new URL(req.url!, 'http://x').pathname.split('/')[2]);
        const bytes = await db.get(cid.bytes);
        if (!bytes) res.writeHead(404).end();
        else res.writeHead(200, { 'content-type': 'application/vnd.ipld.raw' }).end(Buffer.from(bytes));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const anvil = await startAnvil({ stateDir: path.join(corruptDir, 'chain'), logger: silentLogger });
      try {
        const contract = JSON.parse(
          await readFile(path.join(corruptDir, 'chain', 'deployment.json'), 'utf8'),
        ).address;
        const port = (server.address() as { port: number }).port;
        const result = await exportFrom(
          ['--rpc', anvil.rpcUrl, '--contract', contract, '--ipfs', `http://127.0.0.1:${port}/`],
          'corrupt-gateway',
        );
        expect(result.code).toBe(1);
        expect(result.summary.failed).toEqual([
          expect.objectContaining({ recordId: observationRecordId, reason: 'BLOCK_CORRUPT' }),
        ]);
        expect(result.summary.failed[0].detail).toBe(
          `block ${corruptedCid} does not match its hash (corrupted or substituted)`,
        );
        expect(result.bundle!.entry).toHaveLength(66);
        expect(requests).toContain(`/ipfs/${corruptedCid}?format=raw application/vnd.ipld.raw`);
        // The served bytes really differ from the CID's (the check is not vacuous).
        const served = (await db.get(corruptedCid.bytes))!;
        expect(
          Buffer.from((await sha256.digest(served)).digest).equals(
            Buffer.from(corruptedCid.multihash.digest),
          ),
        ).toBe(false);
      } finally {
        await anvil.stop();
        await new Promise((resolve) => server.close(resolve));
        await db.close();
      }
    });
  });
});
