import nacl from 'tweetnacl';
import { BadUserInputError } from '../errors.js';

/*
 * An X25519 public key on a low-order point (0, 1, p-1, the two order-8 points, their non-canonical
 * encodings and high-bit twins) makes every key agreement with it all zeros: a record key "wrapped"
 * for it is wrapped under a constant anyone can compute. Rather than keep a list of encodings, each key
 * is tried once: a scalar multiplication with a random scalar is all zeros exactly for those points.
 */
const PROBE_SCALAR = nacl.randomBytes(nacl.scalarMult.scalarLength);

// The probe costs about a millisecond in pure JS and the same keys recur on every write (nodes, grantees).
const verdicts = new Map<string, BoxKeyProblem | null>();
const MAX_CACHED_VERDICTS = 1_024;

export type BoxKeyProblem = 'wrong-length' | 'all-zero' | 'low-order';

/** What makes a box public key unusable, or null when it can receive wrapped keys. */
export function boxKeyProblem(publicKey: Uint8Array): BoxKeyProblem | null {
  if (publicKey.byteLength !== nacl.box.publicKeyLength) return 'wrong-length';
  if (publicKey.every((byte) => byte === 0)) return 'all-zero';
  const id = Buffer.from(publicKey).toString('base64');
  let verdict = verdicts.get(id);
  if (verdict === undefined) {
    const shared = nacl.scalarMult(PROBE_SCALAR, publicKey);
    verdict = shared.every((byte) => byte === 0) ? 'low-order' : null;
    if (verdicts.size >= MAX_CACHED_VERDICTS) verdicts.delete(verdicts.keys().next().value!);
    verdicts.set(id, verdict);
  }
  return verdict;
}

const REASONS: Record<BoxKeyProblem, string> = {
  'wrong-length': 'must be 32 bytes',
  'all-zero': 'is all zeros',
  'low-order': 'is a low-order Curve25519 point (every key agreement with it is all zeros)',
};

/**
 * Refuses a box public key that could not keep a wrapped record key secret.
 * @throws BadUserInputError naming `field` (default `boxPublicKey`).
 */
export function assertUsableBoxKey(publicKey: Uint8Array, field = 'boxPublicKey'): void {
  const problem = boxKeyProblem(publicKey);
  if (problem) {
    throw new BadUserInputError(
      `${field} ${REASONS[problem]}: use the public key of a fresh X25519 key pair`,
      {
        field,
      },
    );
  }
}

/** A short public fingerprint to name a key in logs (the key is public; this only keeps lines short). */
export function boxKeyFingerprint(publicKey: Uint8Array): string {
  return Buffer.from(publicKey).toString('base64').slice(0, 12);
}

/**
 * Keeps the usable keys of a recipient list and reports each unusable one once per process (keys reach
 * the sealer from the chain and from accounts stored before registration checked them; one bad key
 * must not stop a write for everyone else).
 */
export function createRecipientKeyFilter(
  onUnusable: (fields: { fingerprint: string; problem: BoxKeyProblem }) => void,
): (keys: Uint8Array[]) => Uint8Array[] {
  const reported = new Set<string>();
  return (keys) =>
    keys.filter((key) => {
      const problem = boxKeyProblem(key);
      if (!problem) return true;
      const id = Buffer.from(key).toString('base64');
      if (!reported.has(id) && reported.size < MAX_CACHED_VERDICTS) {
        reported.add(id);
        onUnusable({ fingerprint: boxKeyFingerprint(key), problem });
      }
      return false;
    });
}
