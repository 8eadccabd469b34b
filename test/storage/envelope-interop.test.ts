import { hkdfSync } from 'node:crypto';
import nacl from 'tweetnacl';
import { openRecord, sealRecord } from '../../src/storage/envelope.js';

const b64 = (text: string) => new Uint8Array(Buffer.from(text, 'base64'));
const b = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

describe('envelope sealed with native X25519', () => {
  it('opens with plain tweetnacl (nacl.box.open + secretbox.open), byte for byte', () => {
    const recipient = nacl.box.keyPair();
    const plaintext = new TextEncoder().encode('{"resourceType":"Observation"}');
    const envelope = JSON.parse(
      Buffer.from(sealRecord({ plaintext, recipients: [{ boxPublicKey: recipient.publicKey }] })).toString(),
    );
    const [key] = envelope.keys;
    const recordKey = nacl.box.open(
      b64(key.wrappedKey),
      b64(key.nonce),
      b64(envelope.ephemeralPublicKey),
      recipient.secretKey,
    );
    expect(recordKey).not.toBeNull();
    const opened = nacl.secretbox.open(b64(envelope.ciphertext), b64(envelope.nonce), recordKey!);
    expect(opened).toEqual(plaintext);
  });

  it('opens what plain tweetnacl sealed in the same format', () => {
    const recipient = nacl.box.keyPair();
    const ephemeral = nacl.box.keyPair();
    const recordKey = nacl.randomBytes(32);
    const nonce = nacl.randomBytes(24);
    const keyNonce = nacl.randomBytes(24);
    const plaintext = new TextEncoder().encode('hello');
    const envelope = {
      v: 1,
      alg: 'xsalsa20-poly1305',
      nonce: b(nonce),
      ciphertext: b(nacl.secretbox(plaintext, nonce, recordKey)),
      ephemeralPublicKey: b(ephemeral.publicKey),
      keys: [
        {
          recipient: b(recipient.publicKey),
          nonce: b(keyNonce),
          wrappedKey: b(nacl.box(recordKey, keyNonce, recipient.publicKey, ephemeral.secretKey)),
        },
      ],
    };
    const bytes = new TextEncoder().encode(JSON.stringify(envelope));
    expect(openRecord({ envelope: bytes, boxSecretKey: recipient.secretKey })).toEqual(plaintext);
  });
});

describe("envelope v2: the node's own copy wrapped with secretbox", () => {
  // The self-wrap key as docs/security.md defines it, computed here with Node's HKDF, not our code.
  const selfWrapKey = (secretKey: Uint8Array) =>
    new Uint8Array(hkdfSync('sha256', secretKey, new Uint8Array(0), 'omnichart/envelope/self-wrap/v1', 32));

  it('opens with plain tweetnacl: secretbox.open for the node, box.open for the patient', () => {
    const node = nacl.box.keyPair();
    const patient = nacl.box.keyPair();
    const plaintext = new TextEncoder().encode('{"resourceType":"Observation","id":"v2"}');
    const sealed = sealRecord(
      { plaintext, recipients: [{ boxPublicKey: patient.publicKey }, { boxPublicKey: node.publicKey }] },
      { selfSecretKey: node.secretKey },
    );
    const envelope = JSON.parse(Buffer.from(sealed).toString());
    expect(envelope.v).toBe(2);
    const nodeEntry = envelope.keys.find((k: { recipient: string }) => k.recipient === b(node.publicKey));
    const patientEntry = envelope.keys.find(
      (k: { recipient: string }) => k.recipient === b(patient.publicKey),
    );
    expect(nodeEntry.wrap).toBe('secretbox');
    expect(patientEntry.wrap).toBeUndefined();
    const nodeKey = nacl.secretbox.open(
      b64(nodeEntry.wrappedKey),
      b64(nodeEntry.nonce),
      selfWrapKey(node.secretKey),
    );
    const patientKey = nacl.box.open(
      b64(patientEntry.wrappedKey),
      b64(patientEntry.nonce),
      b64(envelope.ephemeralPublicKey),
      patient.secretKey,
    );
    expect(nodeKey).not.toBeNull();
    expect(patientKey).toEqual(nodeKey);
    expect(nacl.secretbox.open(b64(envelope.ciphertext), b64(envelope.nonce), nodeKey!)).toEqual(plaintext);
  });

  it('opens what plain tweetnacl sealed as v2', () => {
    const node = nacl.box.keyPair();
    const recordKey = nacl.randomBytes(32);
    const nonce = nacl.randomBytes(24);
    const keyNonce = nacl.randomBytes(24);
    const plaintext = new TextEncoder().encode('hello v2');
    const envelope = {
      v: 2,
      alg: 'xsalsa20-poly1305',
      nonce: b(nonce),
      ciphertext: b(nacl.secretbox(plaintext, nonce, recordKey)),
      ephemeralPublicKey: b(nacl.box.keyPair().publicKey),
      keys: [
        {
          recipient: b(node.publicKey),
          nonce: b(keyNonce),
          wrappedKey: b(nacl.secretbox(recordKey, keyNonce, selfWrapKey(node.secretKey))),
          wrap: 'secretbox',
        },
      ],
    };
    const bytes = new TextEncoder().encode(JSON.stringify(envelope));
    expect(openRecord({ envelope: bytes, boxSecretKey: node.secretKey })).toEqual(plaintext);
  });
});
