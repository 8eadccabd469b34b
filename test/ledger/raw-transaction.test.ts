import { randomBytes } from 'node:crypto';
import { Transaction, Wallet, hexlify } from 'ethers';
import { signEip1559, type Eip1559Fields } from '../../src/ledger/raw-transaction.js';

const wallet = new Wallet(`0x${'42'.repeat(32)}`);

const base: Eip1559Fields = {
  chainId: 31337n,
  nonce: 0,
  maxPriorityFeePerGas: 1_000_000_000n,
  maxFeePerGas: 3_000_000_000n,
  gasLimit: 21_000n,
  to: '0x5FbDB2315678afecb367f032d93F642f64180aa3',
  value: 0n,
  data: '0x',
};

describe('signEip1559', () => {
  it.each<[string, Partial<Eip1559Fields>]>([
    ['an empty call', {}],
    ['a one-byte calldata below 0x80', { data: '0x7f' }],
    ['a one-byte calldata at 0x80', { data: '0x80' }],
    ['55 bytes of calldata (the last short length)', { data: hexlify(randomBytes(55)) }],
    ['56 bytes of calldata (the first long length)', { data: hexlify(randomBytes(56)) }],
    ['a 64 KB anchoring batch', { data: hexlify(randomBytes(65_536)), nonce: 70_000, gasLimit: 9_876_543n }],
    ['a contract creation', { to: null, data: hexlify(randomBytes(300)), nonce: 1 }],
    ['large quantities', { chainId: 2n ** 40n + 5n, value: 10n ** 21n, maxFeePerGas: 2n ** 64n - 1n }],
  ])('gives exactly the bytes and hash ethers gives for %s', async (_case, change) => {
    const fields = { ...base, ...change };
    const expected = await wallet.signTransaction({ type: 2, ...fields });
    const signed = signEip1559(fields, wallet.signingKey);
    expect(signed.raw).toBe(expected);
    const parsed = Transaction.from(signed.raw);
    expect(signed.hash).toBe(parsed.hash);
    expect(parsed.from).toBe(wallet.address);
  });

  it('refuses malformed hex and negative quantities', () => {
    expect(() => signEip1559({ ...base, data: '0x123' }, wallet.signingKey)).toThrow(RangeError);
    expect(() => signEip1559({ ...base, to: '0x1234' }, wallet.signingKey)).toThrow(RangeError);
    expect(() => signEip1559({ ...base, value: -1n }, wallet.signingKey)).toThrow(RangeError);
  });
});
