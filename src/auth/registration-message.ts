import { BadUserInputError } from '../errors.js';
import { assertUsableBoxKey } from '../storage/box-key.js';
import type { Role } from '../storage/entities/index.js';
import { checksumAddress, normalizeAddress } from '../ledger/address.js';
import { ROLES } from './caller.js';

export interface RegistrationFields {
  address: string;
  role: string;
  displayName: string;
  /** Base64 of the account's 32-byte X25519 box public key. */
  boxPublicKey: string;
  /** ISO 8601 time the client chose; it is part of the signed text. */
  issuedAt: string;
}

export interface ValidRegistration {
  address: string;
  role: Role;
  displayName: string;
  boxPublicKey: Uint8Array;
  issuedAt: Date;
}

export interface ChainIdentity {
  chainId: bigint;
  contractAddress: string;
}

/** Checks every field of a registration; the error names the field at fault. */
export function validateRegistration(fields: RegistrationFields): ValidRegistration {
  const address = normalizeAddress(fields.address);
  if (!ROLES.includes(fields.role as Role)) {
    throw new BadUserInputError(`role must be one of ${ROLES.join(', ')}`, { field: 'role' });
  }
  const displayName = fields.displayName.trim();
  // Control characters could smuggle extra lines into the signed text.
  if (displayName.length < 1 || displayName.length > 100 || /\p{Cc}/u.test(displayName)) {
    throw new BadUserInputError('displayName must be 1–100 printable characters', { field: 'displayName' });
  }
  const boxPublicKey = decodeBoxKey(fields.boxPublicKey);
  const issuedAt = new Date(fields.issuedAt);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(fields.issuedAt) || Number.isNaN(issuedAt.getTime())) {
    throw new BadUserInputError('issuedAt must be an ISO 8601 date-time', { field: 'issuedAt' });
  }
  return { address, role: fields.role as Role, displayName, boxPublicKey, issuedAt };
}

function decodeBoxKey(base64: string): Uint8Array {
  const bytes = /^[A-Za-z0-9+/]{43}=$/.test(base64) ? Buffer.from(base64, 'base64') : Buffer.alloc(0);
  if (bytes.length !== 32) {
    throw new BadUserInputError('boxPublicKey must be the base64 of a 32-byte X25519 public key', {
      field: 'boxPublicKey',
    });
  }
  const key = new Uint8Array(bytes);
  // A low-order key would let anyone compute the key wrapping this account's record keys.
  assertUsableBoxKey(key, 'boxPublicKey');
  return key;
}

/** The exact text a wallet signs with EIP-191 personal_sign to register. */
export function registrationMessage(registration: ValidRegistration, chain: ChainIdentity): string {
  return [
    'Omnichart account registration',
    '',
    `Address: ${checksumAddress(registration.address)}`,
    `Role: ${registration.role}`,
    `Display name: ${registration.displayName}`,
    `Box public key (X25519, base64): ${Buffer.from(registration.boxPublicKey).toString('base64')}`,
    `Chain ID: ${chain.chainId}`,
    `Contract: ${checksumAddress(chain.contractAddress.toLowerCase())}`,
    `Issued at: ${registration.issuedAt.toISOString()}`,
  ].join('\n');
}
