import nacl from 'tweetnacl';
import { validateRegistration } from '../../src/auth/registration-message.js';
import { BadUserInputError } from '../../src/errors.js';
import { assertUsableBoxKey, boxKeyProblem, createRecipientKeyFilter } from '../../src/storage/box-key.js';
import { LOW_ORDER_ENCODINGS, P, SMALL_ORDER_U, double, encode } from '../helpers/low-order-keys.js';

describe('low-order X25519 keys', () => {
  it('the listed u-coordinates really have small order (doubling reaches infinity within 3 steps)', () => {
    const steps = (u: bigint) => {
      let n = 0;
      for (let x: bigint | null = u; x !== null; x = double(x)) n += 1;
      return n;
    };
    expect(SMALL_ORDER_U.map(steps)).toEqual([1, 2, 2, 3, 3]);
    // A normal key (the base point, u = 9) keeps doubling without reaching infinity.
    let x: bigint | null = 9n;
    for (let i = 0; i < 10; i += 1) x = double(x!);
    expect(x).not.toBeNull();
  });

  it('every listed encoding gives an all-zero key agreement and is refused', () => {
    expect(LOW_ORDER_ENCODINGS).toHaveLength(14);
    const scalar = nacl.randomBytes(32);
    for (const key of LOW_ORDER_ENCODINGS) {
      expect(nacl.scalarMult(scalar, key).every((b) => b === 0)).toBe(true);
      expect(boxKeyProblem(key)).toBe(key.every((b) => b === 0) ? 'all-zero' : 'low-order');
      expect(() => assertUsableBoxKey(key)).toThrow(BadUserInputError);
    }
  });

  it('among the 19 non-canonical encodings p … 2^255-1 only p and p+1 (≡ 0 and 1) are refused', () => {
    const refused: bigint[] = [];
    for (let v = P; v < 2n ** 255n; v += 1n) if (boxKeyProblem(encode(v))) refused.push(v - P);
    expect(refused).toEqual([0n, 1n]);
  });

  it('accepts normal keys and refuses keys of the wrong length', () => {
    for (let i = 0; i < 5; i += 1) expect(boxKeyProblem(nacl.box.keyPair().publicKey)).toBeNull();
    expect(boxKeyProblem(encode(9n))).toBeNull();
    expect(boxKeyProblem(new Uint8Array(31).fill(7))).toBe('wrong-length');
  });

  it('the error names the field and says why', () => {
    let error: unknown;
    try {
      assertUsableBoxKey(LOW_ORDER_ENCODINGS[3]);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(BadUserInputError);
    expect((error as BadUserInputError).details).toEqual({ field: 'boxPublicKey' });
    expect((error as Error).message).toMatch(/^boxPublicKey is a low-order Curve25519 point/);
  });

  it('validateRegistration refuses an all-zero and a low-order key, accepts a fresh one', () => {
    const fields = (key: Uint8Array) => ({
      address: '0x' + '11'.repeat(20),
      role: 'PATIENT',
      displayName: 'Test',
      boxPublicKey: Buffer.from(key).toString('base64'),
      issuedAt: '2026-01-02T03:04:05.000Z',
    });
    expect(() => validateRegistration(fields(new Uint8Array(32)))).toThrow(/boxPublicKey is all zeros/);
    expect(() => validateRegistration(fields(LOW_ORDER_ENCODINGS[4]))).toThrow(/low-order/);
    const key = nacl.box.keyPair().publicKey;
    expect(validateRegistration(fields(key)).boxPublicKey).toEqual(key);
  });
});

describe('createRecipientKeyFilter', () => {
  it('keeps usable keys in order and reports each unusable key once', () => {
    const reports: { fingerprint: string; problem: string }[] = [];
    const filter = createRecipientKeyFilter((fields) => reports.push(fields));
    const good = [nacl.box.keyPair().publicKey, nacl.box.keyPair().publicKey];
    const bad = LOW_ORDER_ENCODINGS[2];
    expect(filter([good[0], bad, good[1], new Uint8Array(3)])).toEqual(good);
    expect(filter([bad, good[1]])).toEqual([good[1]]);
    expect(reports).toEqual([
      { fingerprint: Buffer.from(bad).toString('base64').slice(0, 12), problem: 'low-order' },
      { fingerprint: 'AAAA', problem: 'wrong-length' },
    ]);
  });
});
