import { createHash } from 'node:crypto';

/** One step of an inclusion proof: the sibling hash and which side it sits on. */
export interface ProofStep {
  hash: string;
  position: 'LEFT' | 'RIGHT';
}

// Leaves and inner nodes are hashed with different prefixes, so an inner node can never pass as a leaf.
function leafHash(entryHash: string): Buffer {
  return createHash('sha256')
    .update(Buffer.from([0]))
    .update(Buffer.from(entryHash, 'hex'))
    .digest();
}

function nodeHash(left: Buffer, right: Buffer): Buffer {
  return createHash('sha256')
    .update(Buffer.from([1]))
    .update(left)
    .update(right)
    .digest();
}

/** Levels of the tree, leaves first; an odd node at the end of a level is carried up unchanged. */
function levels(entryHashes: readonly string[]): Buffer[][] {
  if (entryHashes.length === 0) throw new Error('a Merkle tree needs at least one leaf');
  const tree = [entryHashes.map(leafHash)];
  while (tree[tree.length - 1].length > 1) {
    const level = tree[tree.length - 1];
    const next: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2)
      next.push(i + 1 < level.length ? nodeHash(level[i], level[i + 1]) : level[i]);
    tree.push(next);
  }
  return tree;
}

/** Hex root over the entry hashes, in order. */
export function merkleRoot(entryHashes: readonly string[]): string {
  const tree = levels(entryHashes);
  return tree[tree.length - 1][0].toString('hex');
}

/** The inclusion proof of the leaf at `index`. */
export function merkleProof(entryHashes: readonly string[], index: number): ProofStep[] {
  const tree = levels(entryHashes);
  const proof: ProofStep[] = [];
  let position = index;
  for (const level of tree.slice(0, -1)) {
    const sibling = position % 2 === 0 ? position + 1 : position - 1;
    if (sibling < level.length) {
      proof.push({ hash: level[sibling].toString('hex'), position: position % 2 === 0 ? 'RIGHT' : 'LEFT' });
    }
    position = Math.floor(position / 2);
  }
  return proof;
}

/** Recomputes the root from an entry hash and its proof. */
export function rootFromProof(entryHash: string, proof: readonly ProofStep[]): string {
  let hash = leafHash(entryHash);
  for (const step of proof) {
    const sibling = Buffer.from(step.hash, 'hex');
    hash = step.position === 'LEFT' ? nodeHash(sibling, hash) : nodeHash(hash, sibling);
  }
  return hash.toString('hex');
}
