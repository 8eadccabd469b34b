import nacl from 'tweetnacl';
import { BadUserInputError, IntegrityError } from '../../src/errors.js';
import {
  listsRecipient,
  openRecord,
  recipientsOf,
  RecordKeySharer,
  RecordSealer,
  sealRecord,
  wrapRecordKeyFor,
} from '../../src/storage/envelope.js';
import { LOW_ORDER_ENCODINGS } from '../helpers/low-order-keys.js';

const MARKER = 'OMNICHART-PLAINTEXT-MARKER-7f3c9a';
const plaintext = new TextEncoder().encode(
  JSON.stringify({ resourceType: 'Observation', status: 'final', note: MARKER }),
);
const patient = nacl.box.keyPair();
const node = nacl.box.keyPair();
const stranger = nacl.box.keyPair();
const recipients = [{ boxPublicKey: patient.publicKey }, { boxPublicKey: node.publicKey }];

/** The envelope's JSON as tests tamper with it: base64 strings at the top and in each key entry. */
type Fields = Record<string, string>;
type Json = Fields & { keys: Fields[] };

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** Decodes the JSON, flips one bit of one base64 field's bytes, re-encodes canonically. */
function flipField(envelope: Uint8Array, pick: (json: Json) => [Fields, string]) {
  const json = JSON.parse(text(envelope)) as Json;
  const [holder, field] = pick(json);
  const bytes = Buffer.from(holder[field], 'base64');
  bytes[bytes.length >> 1] ^= 0x01;
  holder[field] = bytes.toString('base64');
  return new TextEncoder().encode(JSON.stringify(json));
}

describe('sealRecord / openRecord', () => {
  it('round-trips for the patient and for the node', () => {
    const envelope = sealRecord({ plaintext, recipients });
    expect(text(openRecord({ envelope, boxSecretKey: patient.secretKey }))).toBe(text(plaintext));
    expect(text(openRecord({ envelope, boxSecretKey: node.secretKey }))).toBe(text(plaintext));
  });

  it('writes the documented, versioned format', () => {
    const json = JSON.parse(text(sealRecord({ plaintext, recipients })));
    expect(Object.keys(json).sort()).toEqual([
      'alg',
      'ciphertext',
      'ephemeralPublicKey',
      'keys',
      'nonce',
      'v',
    ]);
    expect(json).toMatchObject({ v: 1, alg: 'xsalsa20-poly1305' });
    expect(Buffer.from(json.nonce, 'base64')).toHaveLength(24);
    expect(Buffer.from(json.ciphertext, 'base64')).toHaveLength(plaintext.length + 16);
    expect(json.keys.map((k: { recipient: string }) => k.recipient)).toEqual([
      Buffer.from(patient.publicKey).toString('base64'),
      Buffer.from(node.publicKey).toString('base64'),
    ]);
  });

  it('never contains the plaintext marker', () => {
    const envelope = Buffer.from(sealRecord({ plaintext, recipients }));
    expect(envelope.includes(MARKER)).toBe(false);
    expect(envelope.includes(Buffer.from(MARKER).toString('base64').slice(0, 16))).toBe(false);
  });

  it('uses a fresh key and nonce every time: two seals of the same plaintext differ', () => {
    const a = JSON.parse(text(sealRecord({ plaintext, recipients })));
    const b = JSON.parse(text(sealRecord({ plaintext, recipients })));
    expect(a.nonce).not.toBe(b.nonce);
    expect(a.ciphertext).not.toBe(b.ciphertext);
    expect(a.ephemeralPublicKey).not.toBe(b.ephemeralPublicKey);
    expect(a.keys[0].wrappedKey).not.toBe(b.keys[0].wrappedKey);
    expect(a.keys[0].nonce).not.toBe(a.keys[1].nonce);
  });

  it.each([
    ['the ciphertext', (j: Json) => [j, 'ciphertext']],
    ['the nonce', (j: Json) => [j, 'nonce']],
    ['the ephemeral public key', (j: Json) => [j, 'ephemeralPublicKey']],
    ["the patient's wrapped key", (j: Json) => [j.keys[0], 'wrappedKey']],
    ["the patient's key nonce", (j: Json) => [j.keys[0], 'nonce']],
    ["the patient's recipient key", (j: Json) => [j.keys[0], 'recipient']],
  ] as const)('rejects a flipped bit in %s with IntegrityError', (_name, pick) => {
    const tampered = flipField(sealRecord({ plaintext, recipients }), pick as never);
    expect(() => openRecord({ envelope: tampered, boxSecretKey: patient.secretKey })).toThrow(IntegrityError);
  });

  it('rejects every single flipped byte of a serialized envelope, never returning data', () => {
    // Short plaintext and one mask: tweetnacl runs ~25x slower inside Jest's VM than in plain Node.
    const short = new TextEncoder().encode(MARKER);
    const envelope = sealRecord({ plaintext: short, recipients: [{ boxPublicKey: patient.publicKey }] });
    for (let i = 0; i < envelope.length; i++) {
      const tampered = Uint8Array.from(envelope);
      tampered[i] ^= 0x01;
      let opened: Uint8Array | undefined;
      try {
        opened = openRecord({ envelope: tampered, boxSecretKey: patient.secretKey });
      } catch (err) {
        expect(err).toBeInstanceOf(IntegrityError);
      }
      if (opened) throw new Error(`byte ${i} flipped was accepted`);
    }
  });

  it('names the failure: wrong key, tampered ciphertext, malformed input', () => {
    const envelope = sealRecord({ plaintext, recipients });
    expect(() => openRecord({ envelope, boxSecretKey: stranger.secretKey })).toThrow(
      /not among its recipients/,
    );
    const tampered = flipField(envelope, (j) => [j, 'ciphertext']);
    expect(() => openRecord({ envelope: tampered, boxSecretKey: node.secretKey })).toThrow(
      /ciphertext failed authentication/,
    );
    const garbage = new TextEncoder().encode('not an envelope');
    expect(() => openRecord({ envelope: garbage, boxSecretKey: node.secretKey })).toThrow(
      /Malformed record envelope/,
    );
    expect(() => openRecord({ envelope, boxSecretKey: new Uint8Array(7) })).toThrow(IntegrityError);
  });

  it('rejects a wrapped key meant for someone else (wrong secret key for the listed recipient)', () => {
    // Point the patient's entry at the stranger's public key: the stranger is "listed" but the box fails.
    const json = JSON.parse(text(sealRecord({ plaintext, recipients })));
    json.keys[0].recipient = Buffer.from(stranger.publicKey).toString('base64');
    const envelope = new TextEncoder().encode(JSON.stringify(json));
    expect(() => openRecord({ envelope, boxSecretKey: stranger.secretKey })).toThrow(/wrapped key failed/);
  });

  it('refuses to seal for no one or for a malformed public key', () => {
    expect(() => sealRecord({ plaintext, recipients: [] })).toThrow(BadUserInputError);
    expect(() => sealRecord({ plaintext, recipients: [{ boxPublicKey: new Uint8Array(31) }] })).toThrow(
      BadUserInputError,
    );
  });

  it('refuses to seal or share for a low-order public key, naming the recipient', () => {
    for (const key of [LOW_ORDER_ENCODINGS[1], LOW_ORDER_ENCODINGS[10]]) {
      expect(() => sealRecord({ plaintext, recipients: [...recipients, { boxPublicKey: key }] })).toThrow(
        /^recipient is a low-order Curve25519 point/,
      );
      const envelope = sealRecord({ plaintext, recipients });
      expect(() => wrapRecordKeyFor(envelope, node.secretKey, key)).toThrow(BadUserInputError);
    }
  });
});

describe('RecordSealer (one write, many records)', () => {
  it('seals records every recipient opens, each with its own key and nonces', () => {
    const sealer = new RecordSealer();
    const texts = ['first', 'second', 'third'].map((t) => new TextEncoder().encode(t));
    const envelopes = texts.map((t, i) =>
      sealer.seal({
        plaintext: t,
        recipients: i === 2 ? [...recipients, { boxPublicKey: stranger.publicKey }] : recipients,
      }),
    );
    sealer.dispose();
    envelopes.forEach((envelope, i) => {
      expect(text(openRecord({ envelope, boxSecretKey: patient.secretKey }))).toBe(text(texts[i]));
      expect(text(openRecord({ envelope, boxSecretKey: node.secretKey }))).toBe(text(texts[i]));
    });
    expect(text(openRecord({ envelope: envelopes[2], boxSecretKey: stranger.secretKey }))).toBe('third');
    expect(() => openRecord({ envelope: envelopes[0], boxSecretKey: stranger.secretKey })).toThrow(
      IntegrityError,
    );

    const jsons = envelopes.map((e) => JSON.parse(text(e)) as Json);
    // One ephemeral key per write; everything else is fresh per record and per recipient.
    expect(new Set(jsons.map((j) => j.ephemeralPublicKey)).size).toBe(1);
    const nonces = jsons.flatMap((j) => [j.nonce, ...j.keys.map((k) => k.nonce)]);
    expect(new Set(nonces).size).toBe(nonces.length);
    const wrapped = jsons.flatMap((j) => j.keys.map((k) => k.wrappedKey));
    expect(new Set(wrapped).size).toBe(wrapped.length);
  });

  it('gives each write its own ephemeral key', () => {
    const [a, b] = [new RecordSealer(), new RecordSealer()].map(
      (sealer) => JSON.parse(text(sealer.seal({ plaintext, recipients }))) as Json,
    );
    expect(a.ephemeralPublicKey).not.toBe(b.ephemeralPublicKey);
  });
});

describe('wrapRecordKeyFor / recipientsOf', () => {
  it('adds a recipient who can then open the record; the earlier ones still can', () => {
    const envelope = sealRecord({ plaintext, recipients });
    expect(() => openRecord({ envelope, boxSecretKey: stranger.secretKey })).toThrow(IntegrityError);
    const granted = wrapRecordKeyFor(envelope, patient.secretKey, stranger.publicKey);
    expect(recipientsOf(granted).map((k) => Buffer.from(k).toString('hex'))).toEqual(
      [patient, node, stranger].map((k) => Buffer.from(k.publicKey).toString('hex')),
    );
    for (const who of [patient, node, stranger]) {
      expect(text(openRecord({ envelope: granted, boxSecretKey: who.secretKey }))).toBe(text(plaintext));
    }
    expect(JSON.parse(text(granted)).ciphertext).toBe(JSON.parse(text(envelope)).ciphertext);
  });

  it('is idempotent for an existing recipient and refuses a holder who cannot open it', () => {
    const envelope = sealRecord({ plaintext, recipients });
    expect(recipientsOf(wrapRecordKeyFor(envelope, node.secretKey, patient.publicKey))).toHaveLength(2);
    expect(() => wrapRecordKeyFor(envelope, stranger.secretKey, stranger.publicKey)).toThrow(IntegrityError);
  });

  it('refuses to extend an envelope whose ciphertext was tampered with', () => {
    const tampered = flipField(sealRecord({ plaintext, recipients }), (j) => [j, 'ciphertext']);
    expect(() => wrapRecordKeyFor(tampered, patient.secretKey, stranger.publicKey)).toThrow(IntegrityError);
  });

  it('rejects a flipped bit in a key added later', () => {
    const granted = wrapRecordKeyFor(
      sealRecord({ plaintext, recipients }),
      patient.secretKey,
      stranger.publicKey,
    );
    for (const field of ['wrappedKey', 'ephemeralPublicKey', 'nonce']) {
      const tampered = flipField(granted, (j) => [j.keys[2], field]);
      expect(() => openRecord({ envelope: tampered, boxSecretKey: stranger.secretKey })).toThrow(
        IntegrityError,
      );
    }
  });
});

describe('RecordKeySharer (one grant, many records)', () => {
  it('copies each envelope for the grantee, which tweetnacl alone opens, with fresh nonces', () => {
    const texts = ['first', 'second', 'third'].map((t) => new TextEncoder().encode(t));
    const envelopes = texts.map((t) => sealRecord({ plaintext: t, recipients }));
    const sharer = new RecordKeySharer(node.secretKey, stranger.publicKey);
    const copies = envelopes.map((e) => sharer.copyFor(e)!);
    sharer.dispose();
    copies.forEach((copy, i) => {
      // The grantee's entry, opened the way any NaCl client would: box.open, then secretbox.open.
      const json = JSON.parse(text(copy)) as Json;
      const entry = json.keys.find(
        (k) => k.recipient === Buffer.from(stranger.publicKey).toString('base64'),
      )!;
      const b = (field: string) => new Uint8Array(Buffer.from(field, 'base64'));
      const recordKey = nacl.box.open(
        b(entry.wrappedKey),
        b(entry.nonce),
        b(entry.ephemeralPublicKey),
        stranger.secretKey,
      )!;
      expect(recordKey).not.toBeNull();
      expect(text(nacl.secretbox.open(b(json.ciphertext), b(json.nonce), recordKey)!)).toBe(text(texts[i]));
      expect(text(openRecord({ envelope: copy, boxSecretKey: patient.secretKey }))).toBe(text(texts[i]));
    });
    const entries = copies.map((c) => (JSON.parse(text(c)) as Json).keys[2]);
    // One ephemeral key per grant; the nonces of the wrapped keys never repeat.
    expect(new Set(entries.map((k) => k.ephemeralPublicKey)).size).toBe(1);
    expect(new Set(entries.map((k) => k.nonce)).size).toBe(entries.length);
  });

  it('answers null for a recipient already listed, and still refuses a holder who cannot open it', () => {
    const envelope = sealRecord({
      plaintext,
      recipients: [...recipients, { boxPublicKey: stranger.publicKey }],
    });
    expect(new RecordKeySharer(node.secretKey, stranger.publicKey).copyFor(envelope)).toBeNull();
    const other = nacl.box.keyPair();
    expect(() => new RecordKeySharer(other.secretKey, stranger.publicKey).copyFor(envelope)).toThrow(
      IntegrityError,
    );
    const tampered = flipField(sealRecord({ plaintext, recipients }), (j) => [j, 'ciphertext']);
    expect(() => new RecordKeySharer(node.secretKey, stranger.publicKey).copyFor(tampered)).toThrow(
      IntegrityError,
    );
  });

  it('refuses a low-order grantee key before anything is wrapped', () => {
    for (const encoding of LOW_ORDER_ENCODINGS) {
      expect(() => new RecordKeySharer(node.secretKey, encoding)).toThrow(BadUserInputError);
    }
  });
});

describe('listsRecipient', () => {
  it('agrees with recipientsOf, and is false for bytes that are no envelope', () => {
    const envelope = sealRecord({ plaintext, recipients });
    expect(listsRecipient(envelope, patient.publicKey)).toBe(true);
    expect(listsRecipient(envelope, node.publicKey)).toBe(true);
    expect(listsRecipient(envelope, stranger.publicKey)).toBe(false);
    expect(
      listsRecipient(wrapRecordKeyFor(envelope, node.secretKey, stranger.publicKey), stranger.publicKey),
    ).toBe(true);
    for (const junk of ['', 'null', '{"keys":7}', '[1]', '\xff']) {
      expect(listsRecipient(new TextEncoder().encode(junk), patient.publicKey)).toBe(false);
    }
    expect(listsRecipient(Uint8Array.of(0xff, 0xfe), patient.publicKey)).toBe(false);
  });
});

describe("the node's own copy (envelope v2, secretbox)", () => {
  const sealV2 = () => sealRecord({ plaintext, recipients }, { selfSecretKey: node.secretKey });
  const nodeEntry = (j: Json) =>
    j.keys.find((k) => k.recipient === Buffer.from(node.publicKey).toString('base64'))!;

  it('opens for the node and the patient; a sealer without a self key still writes v1', () => {
    const envelope = sealV2();
    expect(JSON.parse(text(envelope)).v).toBe(2);
    expect(text(openRecord({ envelope, boxSecretKey: node.secretKey }))).toBe(text(plaintext));
    expect(text(openRecord({ envelope, boxSecretKey: patient.secretKey }))).toBe(text(plaintext));
    const v1 = JSON.parse(text(sealRecord({ plaintext, recipients })));
    expect(v1.v).toBe(1);
    expect(v1.keys.every((k: Fields) => !('wrap' in k))).toBe(true);
  });

  it('refuses a tampered node copy', () => {
    for (const field of ['wrappedKey', 'nonce']) {
      const tampered = flipField(sealV2(), (j) => [nodeEntry(j), field]);
      expect(() => openRecord({ envelope: tampered, boxSecretKey: node.secretKey })).toThrow(IntegrityError);
    }
  });

  it('refuses a node copy forged without the node key, relabelled entries and unknown wraps', () => {
    const relabel = (edit: (j: Json) => void) => {
      const json = JSON.parse(text(sealV2())) as Json;
      edit(json);
      return new TextEncoder().encode(JSON.stringify(json));
    };
    // Someone who knows only the node's public key wraps a key of their own choosing "for the node".
    const forged = relabel((j) => {
      const entry = nodeEntry(j);
      const keyNonce = nacl.randomBytes(24);
      entry.nonce = Buffer.from(keyNonce).toString('base64');
      entry.wrappedKey = Buffer.from(
        nacl.secretbox(nacl.randomBytes(32), keyNonce, nacl.randomBytes(32)),
      ).toString('base64');
    });
    const asV1 = relabel((j) => ((j as unknown as { v: number }).v = 1));
    const unknownWrap = relabel((j) => (nodeEntry(j).wrap = 'aes-gcm'));
    const boxAsSecretbox = relabel((j) => (j.keys.find((k) => !k.wrap)!.wrap = 'secretbox'));
    for (const envelope of [forged, asV1, unknownWrap]) {
      expect(() => openRecord({ envelope, boxSecretKey: node.secretKey })).toThrow(IntegrityError);
    }
    expect(() => openRecord({ envelope: boxAsSecretbox, boxSecretKey: patient.secretKey })).toThrow(
      IntegrityError,
    );
  });

  it('gives a grantee a box copy made from the node copy', () => {
    const granted = wrapRecordKeyFor(sealV2(), node.secretKey, stranger.publicKey);
    expect(JSON.parse(text(granted)).v).toBe(2);
    expect(text(openRecord({ envelope: granted, boxSecretKey: stranger.secretKey }))).toBe(text(plaintext));
    expect(text(openRecord({ envelope: granted, boxSecretKey: node.secretKey }))).toBe(text(plaintext));
  });
});
