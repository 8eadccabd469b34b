// Over 400 lines because the envelope format (v1 box wraps, v2 node copy), its strict decoder and the
// native-X25519 NaCl box that must match tweetnacl byte for byte belong together in one reviewed module.
import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
} from 'node:crypto';
import nacl from 'tweetnacl';
import { BadUserInputError, IntegrityError } from '../errors.js';
import { assertUsableBoxKey } from './box-key.js';
import { bytesEqual, fromBase64Strict, toBase64 } from './bytes.js';

/*
 * Envelope format, version 1 (UTF-8 JSON, base64 fields, no whitespace):
 *   { v: 1, alg: 'xsalsa20-poly1305', nonce, ciphertext, ephemeralPublicKey,
 *     keys: [{ recipient, nonce, wrappedKey, ephemeralPublicKey? }] }
 * `ciphertext` = secretbox(plaintext, nonce, recordKey) with a fresh random 32-byte record key.
 * `wrappedKey` = box(recordKey, keyNonce, recipient, ephemeralSecretKey): the ephemeral secret key is
 * discarded, so a recipient needs only their own secret key. A key added later by
 * `wrapRecordKeyFor` carries its own `ephemeralPublicKey`, which overrides the envelope's.
 *
 * Version 2 adds one kind of key entry, { recipient, nonce, wrappedKey, wrap: 'secretbox' }: the
 * copy for the node that sealed the record, wrappedKey = secretbox(recordKey, keyNonce, selfWrapKey)
 * with selfWrapKey = HKDF-SHA-256(the node's box secret key, info SELF_WRAP_INFO), so the node reads
 * without an X25519 agreement. `recipient` is still the node's box public key. An envelope with such
 * an entry is v 2; one without stays v 1 byte for byte (docs/security.md says what this changes).
 */
const VERSION = 1;
const VERSION_WITH_SELF_WRAP = 2;
const ALG = 'xsalsa20-poly1305';
const SELF_WRAP = 'secretbox';
const SELF_WRAP_INFO = 'omnichart/envelope/self-wrap/v1';
const ENVELOPE_FIELDS = ['alg', 'ciphertext', 'ephemeralPublicKey', 'keys', 'nonce', 'v'];
const KEY_FIELDS = ['nonce', 'recipient', 'wrappedKey'];
const KEY_FIELDS_WITH_EPHEMERAL = ['ephemeralPublicKey', 'nonce', 'recipient', 'wrappedKey'];
const KEY_FIELDS_SELF_WRAPPED = ['nonce', 'recipient', 'wrap', 'wrappedKey'];
const KEY_BYTES = nacl.secretbox.keyLength;
const WRAPPED_KEY_BYTES = KEY_BYTES + nacl.box.overheadLength;

interface WrappedKey {
  recipient: Uint8Array;
  nonce: Uint8Array;
  wrappedKey: Uint8Array;
  ephemeralPublicKey?: Uint8Array;
  /** True for the sealing node's own copy (secretbox under its self-wrap key), v2 only. */
  selfWrapped?: boolean;
}

interface Envelope {
  nonce: Uint8Array;
  ciphertext: Uint8Array;
  ephemeralPublicKey: Uint8Array;
  keys: WrappedKey[];
}

export interface SealRecordParameters {
  plaintext: Uint8Array;
  /** Everyone who may open the record (typically the patient and the node). */
  recipients: { boxPublicKey: Uint8Array }[];
}

export interface RecordSealerOptions {
  /**
   * The sealing node's box secret key: the recipient whose public key matches it gets a secretbox
   * copy under its self-wrap key instead of a box copy (read without key agreement).
   */
  selfSecretKey?: Uint8Array;
}

export interface OpenRecordParameters {
  envelope: Uint8Array;
  /** The X25519 secret key of one recipient; the public key is derived from it. */
  boxSecretKey: Uint8Array;
}

/**
 * Encrypts a record with a fresh random key and nonce (XSalsa20-Poly1305) and wraps that key for each
 * recipient with NaCl box from a fresh ephemeral key pair.
 * @throws BadUserInputError when there are no recipients or a public key is not usable (see box-key.ts).
 */
export function sealRecord(params: SealRecordParameters, options: RecordSealerOptions = {}): Uint8Array {
  const sealer = new RecordSealer(options);
  try {
    return sealer.seal(params);
  } finally {
    sealer.dispose();
  }
}

/**
 * Seals the records of one write (a bundle) from one ephemeral key pair, so the X25519 agreement with
 * each recipient runs once per write instead of once per record: that agreement was most of the
 * sealing cost. Every record still gets its own random key and random nonces (NaCl box stays safe
 * with one key pair as long as nonces never repeat). Envelopes from one sealer share their
 * `ephemeralPublicKey`, which tells only that they were written together. dispose() zeroes the shared
 * keys; the ephemeral secret key is never exported.
 */
export class RecordSealer {
  private readonly ephemeral = ephemeralKeyPair();
  private readonly sharedKeys = new Map<string, Uint8Array>();
  private readonly self?: { publicKey: Uint8Array; wrapKey: Uint8Array };

  constructor(options: RecordSealerOptions = {}) {
    if (options.selfSecretKey) {
      const { publicKey, selfWrapKey } = privateKeyOf(options.selfSecretKey);
      this.self = { publicKey, wrapKey: selfWrapKey };
    }
  }

  /** @throws BadUserInputError when there are no recipients or a public key is not usable. */
  seal(params: SealRecordParameters): Uint8Array {
    if (params.recipients.length === 0) throw new BadUserInputError('A record needs at least one recipient');
    const recordKey = nacl.randomBytes(KEY_BYTES);
    try {
      const keys: WrappedKey[] = [];
      for (const { boxPublicKey } of params.recipients) {
        if (keys.some((k) => bytesEqual(k.recipient, boxPublicKey))) continue;
        keys.push(
          this.self && bytesEqual(this.self.publicKey, boxPublicKey)
            ? selfWrap(recordKey, boxPublicKey, this.self.wrapKey)
            : wrap(recordKey, boxPublicKey, this.sharedKey(boxPublicKey)),
        );
      }
      const nonce = nacl.randomBytes(nacl.secretbox.nonceLength);
      const ciphertext = nacl.secretbox(params.plaintext, nonce, recordKey);
      return encode({ nonce, ciphertext, ephemeralPublicKey: this.ephemeral.publicKey, keys });
    } finally {
      recordKey.fill(0);
    }
  }

  dispose(): void {
    for (const key of this.sharedKeys.values()) key.fill(0);
    this.sharedKeys.clear();
  }

  private sharedKey(recipient: Uint8Array): Uint8Array {
    const id = Buffer.from(recipient).toString('base64');
    let shared = this.sharedKeys.get(id);
    if (!shared) {
      // Callers leave unusable keys out beforehand (createRecipientKeyFilter); this is the backstop.
      assertUsableBoxKey(recipient, 'recipient');
      const computed = boxBefore(recipient, this.ephemeral.privateKey);
      if (!computed) throw new BadUserInputError('A recipient box public key is not a usable X25519 key');
      shared = computed;
      this.sharedKeys.set(id, shared);
    }
    return shared;
  }
}

/**
 * Decrypts an envelope with one recipient's secret key.
 * @throws IntegrityError for any failure (tampered or malformed envelope, wrong key, not a recipient);
 * no bytes are returned unless the Poly1305 tags of both the wrapped key and the record verify.
 */
export function openRecord(params: OpenRecordParameters): Uint8Array {
  const envelope = decode(params.envelope);
  const recordKey = unwrapRecordKey(envelope, params.boxSecretKey);
  try {
    return openWithKey(envelope, recordKey);
  } finally {
    recordKey.fill(0);
  }
}

/**
 * Returns a new envelope that `newRecipientPublicKey` can also open (for grants). The holder must be
 * able to open the record; the ciphertext is unchanged. Adding an existing recipient changes nothing.
 * @throws IntegrityError when the holder cannot open the envelope.
 */
export function wrapRecordKeyFor(
  envelope: Uint8Array,
  holderSecretKey: Uint8Array,
  newRecipientPublicKey: Uint8Array,
): Uint8Array {
  const sharer = new RecordKeySharer(holderSecretKey, newRecipientPublicKey);
  try {
    return sharer.copyFor(envelope) ?? envelope;
  } finally {
    sharer.dispose();
  }
}

/**
 * Wraps the record keys of many envelopes the holder can open for one more recipient (a grantee at
 * grant time), as {@link wrapRecordKeyFor} does one, with one ephemeral key pair and one key agreement
 * for all of them: the two X25519 operations were most of the cost of a copy. As with
 * {@link RecordSealer}, each wrapped key has its own random nonce, so one key pair stays safe; the
 * copies share their entry's `ephemeralPublicKey`, which tells only that they were made together.
 * dispose() zeroes the shared key.
 */
export class RecordKeySharer {
  private readonly ephemeral = ephemeralKeyPair();
  private readonly sharedKey: Uint8Array;

  /** @throws BadUserInputError when the recipient's public key is not usable */
  constructor(
    private readonly holderSecretKey: Uint8Array,
    private readonly recipientPublicKey: Uint8Array,
  ) {
    assertUsableBoxKey(recipientPublicKey, 'recipient');
    const shared = boxBefore(recipientPublicKey, this.ephemeral.privateKey);
    if (!shared) throw new BadUserInputError('A recipient box public key is not a usable X25519 key');
    this.sharedKey = shared;
  }

  /**
   * A copy of the envelope that the recipient can also open, or null when it is a recipient already.
   * Either way the holder's key is checked to open the record's key and ciphertext first.
   * @throws IntegrityError when the holder cannot open the envelope
   */
  copyFor(envelope: Uint8Array): Uint8Array | null {
    const parsed = decode(envelope);
    const recordKey = unwrapRecordKey(parsed, this.holderSecretKey);
    try {
      // Proves the ciphertext is intact before anyone else is given a key to it.
      openWithKey(parsed, recordKey).fill(0);
      if (parsed.keys.some((k) => bytesEqual(k.recipient, this.recipientPublicKey))) return null;
      const added = wrap(recordKey, this.recipientPublicKey, this.sharedKey);
      return encode({
        ...parsed,
        keys: [...parsed.keys, { ...added, ephemeralPublicKey: this.ephemeral.publicKey }],
      });
    } finally {
      recordKey.fill(0);
    }
  }

  dispose(): void {
    this.sharedKey.fill(0);
  }
}

/**
 * The box public keys an envelope's record key is wrapped for. Unauthenticated: it says who was
 * listed, not that their wrapped key is genuine.
 * @throws IntegrityError when the envelope is malformed.
 */
export function recipientsOf(envelope: Uint8Array): Uint8Array[] {
  return decode(envelope).keys.map((k) => k.recipient);
}

/**
 * Whether an envelope lists this box public key among its recipients: what {@link recipientsOf}
 * tells, without decoding the ciphertext (most of the cost of reading an envelope), for checks over a
 * whole chart. Unauthenticated like it, and false for anything it cannot read: a caller that goes on
 * to open or extend the envelope meets the strict checks there.
 */
export function listsRecipient(envelope: Uint8Array, publicKey: Uint8Array): boolean {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(envelope));
  } catch {
    return false;
  }
  const keys = (json as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) return false;
  const wanted = toBase64(publicKey);
  return keys.some((k) => (k as { recipient?: unknown } | null)?.recipient === wanted);
}

function wrap(recordKey: Uint8Array, recipient: Uint8Array, sharedKey: Uint8Array): WrappedKey {
  const nonce = nacl.randomBytes(nacl.box.nonceLength);
  return { recipient, nonce, wrappedKey: nacl.box.after(recordKey, nonce, sharedKey) };
}

function selfWrap(recordKey: Uint8Array, recipient: Uint8Array, wrapKey: Uint8Array): WrappedKey {
  const nonce = nacl.randomBytes(nacl.secretbox.nonceLength);
  return { recipient, nonce, wrappedKey: nacl.secretbox(recordKey, nonce, wrapKey), selfWrapped: true };
}

/** The secretbox key for a node's own copies: HKDF-SHA-256 of its box secret key (no salt). */
function deriveSelfWrapKey(boxSecretKey: Uint8Array): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', boxSecretKey, new Uint8Array(0), SELF_WRAP_INFO, KEY_BYTES));
}

/*
 * NaCl box with Node's native X25519 (about 20x faster than tweetnacl's pure-JS scalar multiplication):
 * box.before(pk, sk) = HSalsa20(key = X25519(sk, pk), input = 16 zero bytes), byte for byte what
 * tweetnacl computes, so envelopes stay readable by any NaCl implementation.
 */
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');
const SIGMA = new TextEncoder().encode('expand 32-byte k');
const ZERO_16 = new Uint8Array(16);
type HSalsa20 = (out: Uint8Array, input: Uint8Array, key: Uint8Array, constant: Uint8Array) => void;
const hsalsa20 = (nacl as unknown as { lowlevel: { crypto_core_hsalsa20: HSalsa20 } }).lowlevel
  .crypto_core_hsalsa20;

// Importing a PKCS#8 X25519 key costs ~0.7 ms in Node 20 (more than the DH itself): keep the few
// long-lived secret keys (the node's) imported, checked against a copy so a zeroed array is not reused.
interface ImportedSecretKey {
  privateKey: KeyObject;
  publicKey: Uint8Array;
  selfWrapKey: Uint8Array;
}
const privateKeys = new WeakMap<Uint8Array, ImportedSecretKey & { copy: Uint8Array }>();

function privateKeyOf(secretKey: Uint8Array): ImportedSecretKey {
  const cached = privateKeys.get(secretKey);
  if (cached && bytesEqual(cached.copy, secretKey)) return cached;
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_X25519_PREFIX, secretKey]),
    format: 'der',
    type: 'pkcs8',
  });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const entry = {
    copy: Uint8Array.from(secretKey),
    privateKey,
    publicKey: new Uint8Array(spki.subarray(SPKI_X25519_PREFIX.length)),
    selfWrapKey: deriveSelfWrapKey(secretKey),
  };
  privateKeys.set(secretKey, entry);
  return entry;
}

// Recipients repeat (the node, a patient's many records): keep a bounded cache of imported public keys.
const publicKeys = new Map<string, KeyObject>();
const MAX_CACHED_PUBLIC_KEYS = 1_024;

function publicKeyObject(publicKey: Uint8Array): KeyObject {
  const x = Buffer.from(publicKey).toString('base64url');
  let key = publicKeys.get(x);
  if (!key) {
    key = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x }, format: 'jwk' });
    if (publicKeys.size >= MAX_CACHED_PUBLIC_KEYS) publicKeys.delete(publicKeys.keys().next().value!);
    publicKeys.set(x, key);
  }
  return key;
}

function ephemeralKeyPair(): { privateKey: KeyObject; publicKey: Uint8Array } {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const x = publicKey.export({ format: 'jwk' }).x!;
  return { privateKey, publicKey: new Uint8Array(Buffer.from(x, 'base64url')) };
}

/** The shared box key, or null when the public key is a low-order point (no shared secret). */
function boxBefore(publicKey: Uint8Array, privateKey: KeyObject): Uint8Array | null {
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey, publicKey: publicKeyObject(publicKey) });
  } catch {
    return null;
  }
  const key = new Uint8Array(32);
  hsalsa20(key, ZERO_16, shared, SIGMA);
  shared.fill(0);
  return key;
}

function unwrapRecordKey(envelope: Envelope, boxSecretKey: Uint8Array): Uint8Array {
  if (boxSecretKey.byteLength !== nacl.box.secretKeyLength) {
    throw new IntegrityError('Cannot open record: a box secret key must be 32 bytes');
  }
  const { privateKey, publicKey, selfWrapKey } = privateKeyOf(boxSecretKey);
  const entry = envelope.keys.find((k) => bytesEqual(k.recipient, publicKey));
  if (!entry) throw new IntegrityError('Cannot open record: this key is not among its recipients');
  let recordKey: Uint8Array | null;
  if (entry.selfWrapped) {
    recordKey = nacl.secretbox.open(entry.wrappedKey, entry.nonce, selfWrapKey);
  } else {
    const sender = entry.ephemeralPublicKey ?? envelope.ephemeralPublicKey;
    const shared = boxBefore(sender, privateKey);
    recordKey = shared ? nacl.box.open.after(entry.wrappedKey, entry.nonce, shared) : null;
    shared?.fill(0);
  }
  if (!recordKey || recordKey.byteLength !== KEY_BYTES) {
    throw new IntegrityError(
      'Cannot open record: its wrapped key failed authentication (tampered or wrong key)',
    );
  }
  return recordKey;
}

function openWithKey(envelope: Envelope, recordKey: Uint8Array): Uint8Array {
  const plaintext = nacl.secretbox.open(envelope.ciphertext, envelope.nonce, recordKey);
  if (!plaintext)
    throw new IntegrityError('Cannot open record: its ciphertext failed authentication (tampered)');
  return plaintext;
}

function encode(envelope: Envelope): Uint8Array {
  const json = {
    v: envelope.keys.some((k) => k.selfWrapped) ? VERSION_WITH_SELF_WRAP : VERSION,
    alg: ALG,
    nonce: toBase64(envelope.nonce),
    ciphertext: toBase64(envelope.ciphertext),
    ephemeralPublicKey: toBase64(envelope.ephemeralPublicKey),
    keys: envelope.keys.map((k) => ({
      recipient: toBase64(k.recipient),
      nonce: toBase64(k.nonce),
      wrappedKey: toBase64(k.wrappedKey),
      ...(k.ephemeralPublicKey ? { ephemeralPublicKey: toBase64(k.ephemeralPublicKey) } : {}),
      ...(k.selfWrapped ? { wrap: SELF_WRAP } : {}),
    })),
  };
  return new TextEncoder().encode(JSON.stringify(json));
}

/** Strict parse: exact field sets and canonical base64, so no altered byte is silently accepted. */
function decode(bytes: Uint8Array): Envelope {
  const malformed = (why: string) => new IntegrityError(`Malformed record envelope: ${why}`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw malformed('not UTF-8 JSON');
  }
  if (!hasExactly(json, ENVELOPE_FIELDS)) throw malformed('unexpected fields');
  if (json.v !== VERSION && json.v !== VERSION_WITH_SELF_WRAP)
    throw malformed(`unsupported version ${JSON.stringify(json.v)}`);
  if (json.alg !== ALG) throw malformed(`unsupported algorithm ${JSON.stringify(json.alg)}`);
  const nonce = fromBase64Strict(json.nonce, nacl.secretbox.nonceLength);
  const ciphertext = fromBase64Strict(json.ciphertext);
  const ephemeralPublicKey = fromBase64Strict(json.ephemeralPublicKey, nacl.box.publicKeyLength);
  if (!nonce || !ephemeralPublicKey || !ciphertext || ciphertext.byteLength < nacl.secretbox.overheadLength) {
    throw malformed('bad nonce, ciphertext or ephemeral key');
  }
  if (!Array.isArray(json.keys) || json.keys.length === 0) throw malformed('no wrapped keys');
  const keys = json.keys.map((k: unknown, i: number): WrappedKey => {
    const selfWrapped = hasExactly(k, KEY_FIELDS_SELF_WRAPPED);
    if (!hasExactly(k, KEY_FIELDS) && !hasExactly(k, KEY_FIELDS_WITH_EPHEMERAL) && !selfWrapped)
      throw malformed(`key ${i} fields`);
    if (selfWrapped && (json.v !== VERSION_WITH_SELF_WRAP || k.wrap !== SELF_WRAP))
      throw malformed(`key ${i} wrap`);
    const entry = {
      recipient: fromBase64Strict(k.recipient, nacl.box.publicKeyLength),
      nonce: fromBase64Strict(k.nonce, nacl.box.nonceLength),
      wrappedKey: fromBase64Strict(k.wrappedKey, WRAPPED_KEY_BYTES),
      ephemeralPublicKey:
        'ephemeralPublicKey' in k
          ? fromBase64Strict(k.ephemeralPublicKey, nacl.box.publicKeyLength)
          : undefined,
    };
    if (!entry.recipient || !entry.nonce || !entry.wrappedKey) throw malformed(`key ${i} values`);
    if ('ephemeralPublicKey' in k && !entry.ephemeralPublicKey) throw malformed(`key ${i} ephemeral key`);
    return (selfWrapped ? { ...entry, selfWrapped } : entry) as WrappedKey;
  });
  const distinct = new Set(keys.map((k) => toBase64(k.recipient)));
  if (distinct.size !== keys.length) throw malformed('a recipient is listed twice');
  if (json.v === VERSION_WITH_SELF_WRAP && !keys.some((k) => k.selfWrapped))
    throw malformed('v2 without a node copy');
  return { nonce, ciphertext, ephemeralPublicKey, keys };
}

function hasExactly(value: unknown, fields: string[]): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value).sort();
  return keys.length === fields.length && keys.every((k, i) => k === fields[i]);
}
