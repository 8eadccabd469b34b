import { getAddress, hexlify, id as keccakUtf8, isAddress } from 'ethers';
import { BadUserInputError } from '../errors.js';
import { isUuid } from '../uuid.js';

const bytes16Pattern = /^0x[0-9a-f]{32}$/i;

/** `3f2c...-...` → `0x3f2c...` (the contract's bytes16 record id). */
export function uuidToBytes16(uuid: string): string {
  if (!isUuid(uuid)) throw new BadUserInputError(`not a UUID: ${uuid}`);
  return `0x${uuid.replaceAll('-', '').toLowerCase()}`;
}

/** `0x3f2c...` (bytes16) → lower-case hyphenated UUID. */
export function bytes16ToUuid(value: string): string {
  if (!bytes16Pattern.test(value)) throw new BadUserInputError(`not a bytes16 value: ${value}`);
  const h = value.slice(2).toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Checksummed address, or BAD_USER_INPUT naming the field. */
export function toAddress(value: string, field = 'address'): string {
  if (!isAddress(value)) throw new BadUserInputError(`${field} is not an Ethereum address: ${value}`);
  return getAddress(value);
}

/** A 32-byte key as bytes32 hex, or BAD_USER_INPUT. */
export function toBytes32(value: Uint8Array, field: string): string {
  if (value.length !== 32) throw new BadUserInputError(`${field} must be 32 bytes, got ${value.length}`);
  return hexlify(value);
}

/** The contract's model key: keccak256 of the UTF-8 model id. */
export function modelKey(modelId: string): string {
  return keccakUtf8(modelId);
}
