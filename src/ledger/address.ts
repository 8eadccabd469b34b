import { getAddress, isAddress, verifyMessage } from 'ethers';
import { LRUCache } from 'lru-cache';
import { BadUserInputError } from '../errors.js';

/** Lower-case form used as the key everywhere; rejects anything that is not a 20-byte hex address. */
export function normalizeAddress(value: string, field = 'address'): string {
  if (typeof value !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(value) || !isAddress(value)) {
    throw new BadUserInputError(`${field} must be a 0x-prefixed Ethereum address`, { field });
  }
  // A mixed-case address must carry a valid EIP-55 checksum; getAddress throws on a bad one.
  try {
    return getAddress(value).toLowerCase();
  } catch {
    throw new BadUserInputError(`${field} has an invalid EIP-55 checksum`, { field });
  }
}

// EIP-55 needs a keccak per call and answers repeat the same few addresses: remember recent ones
// (bench:http's profile showed 2.6 % of record(id) CPU in this keccak).
const checksummed = new LRUCache<string, string>({ max: 10_000 });

export function checksumAddress(lowerCase: string): string {
  let result = checksummed.get(lowerCase);
  if (result === undefined) {
    result = getAddress(lowerCase);
    checksummed.set(lowerCase, result);
  }
  return result;
}

/** The lower-case address whose key made an EIP-191 `personal_sign` signature of `message`. */
export function recoverMessageSigner(message: string, signature: string): string {
  return verifyMessage(message, signature).toLowerCase();
}
