import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { CID } from 'multiformats/cid';
import { sha256 } from 'multiformats/hashes/sha2';
import nacl from 'tweetnacl';
import type { BlockSource } from '../../src/export/block-source.js';
import { openChainReader, type ChainReader } from '../../src/ledger/chain-reader.js';
import { exportBundle } from '../../src/export/export-bundle.js';
import { exportChart, type ChartExport } from '../../src/export/patient-export.js';
import { NotFoundError } from '../../src/errors.js';
import { openEmbeddedLedger, type EmbeddedLedger } from '../../src/ledger/embedded-chain.js';
import { silentLogger } from '../../src/logger.js';
import type { ContentStore } from '../../src/storage/content-store.js';
import { sealRecord } from '../../src/storage/envelope.js';
import { openContentStore } from '../../src/storage/helia-content-store.js';
import { newWallet, randomKey, signedRegistration, tempDir } from '../ledger/helpers.js';

/*
 * What the export does with the anchors a relayer may write: repeats, junk with other CIDs, gaps,
 * envelopes sealed for another record or another key, blocks nobody holds. A real chain (anvil with
 * the contract) and a real Helia blockstore; the envelopes are sealed as the node seals them.
 */

let ledger: EmbeddedLedger;
let content: ContentStore;
let chain: ChainReader;
let remove: () => Promise<void>;
const patient = newWallet();
const box = nacl.box.keyPair();
const stranger = nacl.box.keyPair();
const blocks: BlockSource = {
  async block(cid) {
    const bytes = await content.block(cid);
    if (!bytes) throw new NotFoundError(`no block ${cid}`);
    return bytes;
  },
  async close() {},
};

beforeAll(async () => {
  const temp = await tempDir('patient-export');
  remove = temp.remove;
  ledger = await openEmbeddedLedger({ dataDir: temp.dir, relayerKey: randomKey(), logger: silentLogger });
  content = await openContentStore({ blockstoreDir: path.join(temp.dir, 'blocks') });
  await ledger.registerAccount(await signedRegistration(patient, ledger, { boxPublicKey: box.publicKey }));
  chain = await openChainReader({ rpcUrl: ledger.chain.anvil.rpcUrl, contract: ledger.contractAddress });
});

afterAll(async () => {
  chain?.close();
  await content?.close();
  await ledger?.close();
  await remove?.();
});

const observation = (value: number) => ({
  resourceType: 'Observation',
  status: 'final',
  code: { text: 'heart rate' },
  valueQuantity: { value, unit: '/min' },
});

/** Seals a payload as the record writer does and stores it; returns its CID. */
async function sealed(
  fields: { recordId: string; version: number; resource: object; previousCid?: string; patient?: string },
  recipient = box.publicKey,
): Promise<CID> {
  const payload = { patient: patient.address.toLowerCase(), ...fields };
  const envelope = sealRecord({
    plaintext: Buffer.from(JSON.stringify(payload)),
    recipients: [{ boxPublicKey: recipient }],
  });
  return content.put(envelope);
}

async function anchor(recordId: string, version: number, cid: CID): Promise<void> {
  await ledger.anchorRecords([{ patient: patient.address, recordId, version, cid: cid.bytes }]);
}

describe('exportChart', () => {
  let chart: ChartExport;
  const ids = {
    twice: randomUUID(),
    junkAfter: randomUUID(),
    junkBefore: randomUUID(),
    gap: randomUUID(),
    otherRecord: randomUUID(),
    brokenChain: randomUUID(),
    otherKey: randomUUID(),
    missing: randomUUID(),
  };
  let cids: Record<string, CID[]>;

  beforeAll(async () => {
    // Two versions, the second anchored twice (a resend after a crash).
    const t1 = await sealed({ recordId: ids.twice, version: 1, resource: observation(60) });
    const t2 = await sealed({
      recordId: ids.twice,
      version: 2,
      resource: observation(61),
      previousCid: t1.toString(),
    });
    await anchor(ids.twice, 1, t1);
    await anchor(ids.twice, 2, t2);
    await anchor(ids.twice, 2, t2);
    // A second, different version 1 anchored after the real one: the first stays.
    const a1 = await sealed({ recordId: ids.junkAfter, version: 1, resource: observation(70) });
    const a1Junk = await sealed({ recordId: ids.junkAfter, version: 1, resource: observation(0) });
    await anchor(ids.junkAfter, 1, a1);
    await anchor(ids.junkAfter, 1, a1Junk);
    // Junk that does not open anchored before the real version 1: the real one is still found.
    const b1Junk = await sealed(
      { recordId: ids.junkBefore, version: 1, resource: observation(0) },
      stranger.publicKey,
    );
    const b1 = await sealed({ recordId: ids.junkBefore, version: 1, resource: observation(80) });
    await anchor(ids.junkBefore, 1, b1Junk);
    await anchor(ids.junkBefore, 1, b1);
    // Versions 1 and 3, no 2.
    const g1 = await sealed({ recordId: ids.gap, version: 1, resource: observation(90) });
    const g3 = await sealed({ recordId: ids.gap, version: 3, resource: observation(92), previousCid: 'x' });
    await anchor(ids.gap, 1, g1);
    await anchor(ids.gap, 3, g3);
    // An envelope sealed for another record id, anchored under this one.
    const o1 = await sealed({ recordId: randomUUID(), version: 1, resource: observation(100) });
    await anchor(ids.otherRecord, 1, o1);
    // Version 2 naming a previous CID that is not version 1's.
    const c1 = await sealed({ recordId: ids.brokenChain, version: 1, resource: observation(110) });
    const c2 = await sealed({
      recordId: ids.brokenChain,
      version: 2,
      resource: observation(111),
      previousCid: o1.toString(),
    });
    await anchor(ids.brokenChain, 1, c1);
    await anchor(ids.brokenChain, 2, c2);
    // Sealed for someone else only.
    const k1 = await sealed(
      { recordId: ids.otherKey, version: 1, resource: observation(120) },
      stranger.publicKey,
    );
    await anchor(ids.otherKey, 1, k1);
    // A CID no block source holds.
    const m1 = CID.createV0(await sha256.digest(new TextEncoder().encode('never stored')));
    await anchor(ids.missing, 1, m1);
    cids = { twice: [t1, t2], junkAfter: [a1, a1Junk], junkBefore: [b1Junk, b1], otherRecord: [o1] };
    // Another patient's anchor, which the patient topic filters out.
    await ledger.anchorRecords([
      { patient: newWallet().address, recordId: randomUUID(), version: 1, cid: t1.bytes },
    ]);

    chart = await exportChart({ chain, blocks, patient: patient.address, boxSecretKey: box.secretKey });
  });

  it('exports the records whose every version verifies, with their content', () => {
    expect(chart.anchors).toBe(14);
    const exported = Object.fromEntries(
      chart.records.map((r) => [
        r.recordId,
        r.versions.map((v) => (v.resource.valueQuantity as { value: number }).value),
      ]),
    );
    expect(exported).toEqual({ [ids.twice]: [60, 61], [ids.junkAfter]: [70], [ids.junkBefore]: [80] });
    const twice = chart.records.find((r) => r.recordId === ids.twice)!;
    expect(twice.versions.map((v) => v.cid)).toEqual(cids.twice.map(String));
    expect(twice.versions[1].previousCid).toBe(cids.twice[0].toString());
  });

  it('reports each failed record once, with its reason', () => {
    const failed = Object.fromEntries(chart.failed.map((f) => [f.recordId, [f.version, f.reason]]));
    expect(failed).toEqual({
      [ids.gap]: [2, 'VERSION_GAP'],
      [ids.otherRecord]: [1, 'PAYLOAD_MISMATCH'],
      [ids.brokenChain]: [2, 'PREVIOUS_CID_MISMATCH'],
      [ids.otherKey]: [1, 'DECRYPT_FAILED'],
      [ids.missing]: [1, 'BLOCK_MISSING'],
    });
    expect(chart.failed.find((f) => f.recordId === ids.otherKey)!.detail).toMatch(/not among its recipients/);
  });

  it('lists junk anchors beside a verified version as ignored, and a plain repeat not at all', () => {
    const ignored = chart.ignoredAnchors.map((f) => [f.recordId, f.cid, f.reason]);
    expect(ignored).toEqual([
      [ids.junkAfter, cids.junkAfter[1].toString(), 'PAYLOAD_MISMATCH'],
      [ids.junkBefore, cids.junkBefore[0].toString(), 'DECRYPT_FAILED'],
    ]);
  });

  it('bundles the latest versions, or every version with allVersions', () => {
    const latest = exportBundle(chart, { allVersions: false });
    expect(latest.entry.map((e) => e.fullUrl)).toEqual([
      `urn:uuid:${ids.twice}`,
      `urn:uuid:${ids.junkAfter}`,
      `urn:uuid:${ids.junkBefore}`,
    ]);
    expect(latest.entry[0].resource).toEqual(observation(61));
    const all = exportBundle(chart, { allVersions: true });
    expect(all.entry.map((e) => e.resource)).toEqual([60, 61, 70, 80].map(observation));
  });
});
