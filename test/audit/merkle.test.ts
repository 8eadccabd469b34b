import { createHash } from 'node:crypto';
import { merkleProof, merkleRoot, rootFromProof } from '../../src/audit/merkle.js';
import { auditEntryHash, GENESIS_HASH } from '../../src/audit/audit-entry-hash.js';

const sha = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest();
const leaf = (hex: string) => sha(Buffer.from([0]), Buffer.from(hex, 'hex'));
const node = (a: Buffer, b: Buffer) => sha(Buffer.from([1]), a, b);
const hashes = Array.from({ length: 7 }, (_, i) => createHash('sha256').update(`entry ${i}`).digest('hex'));

describe('Merkle batches of audit entries', () => {
  it('computes the root by the documented construction', () => {
    const [a, b, c] = hashes.slice(0, 3).map(leaf);
    expect(merkleRoot(hashes.slice(0, 3))).toBe(node(node(a, b), c).toString('hex'));
    expect(merkleRoot(hashes.slice(0, 1))).toBe(a.toString('hex'));
  });

  it('proves every leaf of trees of every size from 1 to 7', () => {
    for (let size = 1; size <= hashes.length; size += 1) {
      const leaves = hashes.slice(0, size);
      const root = merkleRoot(leaves);
      leaves.forEach((hash, index) => expect(rootFromProof(hash, merkleProof(leaves, index))).toBe(root));
    }
  });

  it('fails for an altered leaf or a proof for another position', () => {
    const root = merkleRoot(hashes);
    const proof = merkleProof(hashes, 2);
    expect(rootFromProof(hashes[3], proof)).not.toBe(root);
    const altered = hashes[2].replace(/^./, (c) => (c === '0' ? '1' : '0'));
    expect(rootFromProof(altered, proof)).not.toBe(root);
  });

  it('hashes audit entries over every field', () => {
    const fields = {
      patient: '0x' + 'ab'.repeat(20),
      seq: 1,
      actor: '0x' + 'cd'.repeat(20),
      action: 'read',
      resourceType: 'Observation',
      recordId: null,
      outcome: 'ALLOWED',
      purpose: null,
      reason: null,
      at: '2026-11-25T10:00:00.000Z',
      prevHash: GENESIS_HASH,
    };
    const expected = createHash('sha256')
      .update(
        JSON.stringify([
          'omnichart-audit-v1',
          fields.patient,
          1,
          fields.actor,
          'read',
          'Observation',
          null,
          'ALLOWED',
          null,
          null,
          fields.at,
          GENESIS_HASH,
        ]),
      )
      .digest('hex');
    expect(auditEntryHash(fields)).toBe(expected);
    expect(auditEntryHash({ ...fields, outcome: 'DENIED' })).not.toBe(expected);
  });
});
