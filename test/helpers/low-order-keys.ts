/* Curve25519 low-order points, computed here independently of the code under test. */
export const P = 2n ** 255n - 19n;
const A = 486662n;

/** Little-endian 32-byte encoding of an integer below 2^256. */
export function encode(value: bigint): Uint8Array {
  const bytes = new Uint8Array(32);
  for (let i = 0; i < 32; i += 1) bytes[i] = Number((value >> BigInt(8 * i)) & 0xffn);
  return bytes;
}

const mod = (a: bigint) => ((a % P) + P) % P;
function inverse(a: bigint): bigint {
  let [result, base, exp] = [1n, mod(a), P - 2n];
  for (; exp > 0n; exp >>= 1n, base = mod(base * base)) if (exp & 1n) result = mod(result * base);
  return result;
}
/** u-coordinate of 2·Q on Curve25519 (or its twist) from Q's u: (u²-1)² / 4u(u²+Au+1); null = infinity. */
export function double(u: bigint): bigint | null {
  const denominator = mod(4n * u * (u * u + A * u + 1n));
  return denominator === 0n ? null : mod((u * u - 1n) ** 2n * inverse(denominator));
}

/*
 * The small-order u-coordinates of Curve25519 and its twist: 0 (order 2; also the point at infinity's
 * stand-in), p-1 (order 4, on the twist), 1 (order 4) and the two order-8 points listed in
 * cr.yp.to/ecdh.html. X25519 ignores bit 255 and does not reduce mod p first, so each value below 2^255
 * that is congruent to one of these (0, 1, p, p+1 too) is refused, with and without bit 255: 14 encodings.
 */
const ORDER_8 = [
  325606250916557431795983626356110631294008115727848805560023387167927233504n,
  39382357235489614581723060781553021112529911719440698176882885853963445705823n,
];
export const SMALL_ORDER_U = [0n, 1n, P - 1n, ...ORDER_8];
const LOW_ORDER_VALUES = [...SMALL_ORDER_U, P, P + 1n];
export const LOW_ORDER_ENCODINGS = [...LOW_ORDER_VALUES, ...LOW_ORDER_VALUES.map((v) => v + 2n ** 255n)].map(
  encode,
);
