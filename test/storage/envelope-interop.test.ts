import nacl from 'tweetnacl';
import { openRecord, sealRecord } from '../../src/storage/envelope.js';

const b64 = (text: string) => new Uint8Array(Buffer.from(text, 'base64'));

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
    const b = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
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
