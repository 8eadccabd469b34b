import { ZeroAddress, hexlify } from 'ethers';
import { BadUserInputError } from '../errors.js';
import type { ContractAccess } from './contract-access.js';
import { findEvent, toSignature, toUint, txResult, unixSeconds } from './consent.js';
import { toAddress, toBytes32 } from './ids.js';
import type {
  AttestationTypedData,
  AttestationTypedDataParameters,
  OnChainAttestation,
  RegisterAccountParameters,
  RelayAttestationParameters,
  RelayRevokeAttestationParameters,
  RevokeAttestationTypedData,
  RevokeAttestationTypedDataParameters,
  TxResult,
} from './ledger-types.js';
import {
  ATTESTATION_TYPE,
  EIP712_DOMAIN_TYPE,
  REVOKE_ATTESTATION_TYPE,
  omnichartDomain,
} from './typed-data.js';
import { patientNonce } from './consent.js';

/** Roles an admitted organization may attest. */
export const ATTESTABLE_ROLES = ['PRACTITIONER', 'ANALYST'] as const;

/** Relays an account's signed registration; the contract rebuilds the text and checks the signer. */
export async function registerAccount(
  access: ContractAccess,
  parameters: RegisterAccountParameters,
): Promise<TxResult> {
  const receipt = await access.write('registerAccount', [
    [
      toAddress(parameters.account, 'account'),
      parameters.role,
      parameters.displayName,
      toBytes32(parameters.boxPublicKey, 'boxPublicKey'),
      parameters.issuedAt,
    ],
    toSignature(parameters.signature),
  ]);
  return txResult(receipt);
}

export async function registerNodeKey(access: ContractAccess, boxPublicKey: Uint8Array): Promise<TxResult> {
  return txResult(await access.write('registerNodeKey', [toBytes32(boxPublicKey, 'boxPublicKey')]));
}

export async function admitOrganization(
  access: ContractAccess,
  organization: string,
  admitted: boolean,
): Promise<TxResult> {
  return txResult(
    await access.write('admitOrganization', [toAddress(organization, 'organization'), admitted]),
  );
}

export async function contractOwner(access: ContractAccess): Promise<string> {
  const [owner] = await access.read('owner', [], 'reading the contract owner');
  return (owner as string).toLowerCase();
}

/** The Attestation payload for the organization's wallet. */
export async function attestationTypedData(
  access: ContractAccess,
  parameters: AttestationTypedDataParameters,
): Promise<AttestationTypedData> {
  const organization = toAddress(parameters.organization, 'organization');
  if (!(ATTESTABLE_ROLES as readonly string[]).includes(parameters.role)) {
    throw new BadUserInputError(`role must be one of ${ATTESTABLE_ROLES.join(', ')}`, { field: 'role' });
  }
  const nonce =
    parameters.nonce === undefined
      ? await patientNonce(access, organization)
      : toUint(parameters.nonce, 'nonce');
  return {
    domain: omnichartDomain(access.chainId, access.contractAddress),
    types: { EIP712Domain: EIP712_DOMAIN_TYPE, Attestation: ATTESTATION_TYPE },
    primaryType: 'Attestation',
    message: {
      subject: toAddress(parameters.subject, 'subject'),
      role: parameters.role,
      organization,
      identifier: parameters.identifier,
      expiresAt: unixSeconds(parameters.expiresAt, 'expiresAt'),
      nonce: nonce.toString(),
    },
  };
}

export async function relayAttestation(
  access: ContractAccess,
  parameters: RelayAttestationParameters,
): Promise<TxResult> {
  const receipt = await access.write('attest', [
    [
      toAddress(parameters.subject, 'subject'),
      parameters.role,
      toAddress(parameters.organization, 'organization'),
      parameters.identifier,
      unixSeconds(parameters.expiresAt, 'expiresAt'),
      toUint(parameters.nonce, 'nonce'),
    ],
    toSignature(parameters.signature),
  ]);
  findEvent(access, receipt, 'Attested');
  return txResult(receipt);
}

/** The RevokeAttestation payload; `signer` (the organization or the owner) supplies the nonce. */
export async function revokeAttestationTypedData(
  access: ContractAccess,
  parameters: RevokeAttestationTypedDataParameters,
): Promise<RevokeAttestationTypedData> {
  const organization = toAddress(parameters.organization, 'organization');
  const signer = toAddress(parameters.signer ?? organization, 'signer');
  const nonce =
    parameters.nonce === undefined ? await patientNonce(access, signer) : toUint(parameters.nonce, 'nonce');
  return {
    domain: omnichartDomain(access.chainId, access.contractAddress),
    types: { EIP712Domain: EIP712_DOMAIN_TYPE, RevokeAttestation: REVOKE_ATTESTATION_TYPE },
    primaryType: 'RevokeAttestation',
    message: { subject: toAddress(parameters.subject, 'subject'), organization, nonce: nonce.toString() },
  };
}

export async function relayRevokeAttestation(
  access: ContractAccess,
  parameters: RelayRevokeAttestationParameters,
): Promise<TxResult> {
  const receipt = await access.write('revokeAttestation', [
    toAddress(parameters.subject, 'subject'),
    toUint(parameters.nonce, 'nonce'),
    toSignature(parameters.signature),
  ]);
  return txResult(receipt);
}

export async function ownerRevokeAttestation(access: ContractAccess, subject: string): Promise<TxResult> {
  return txResult(await access.write('ownerRevokeAttestation', [toAddress(subject, 'subject')]));
}

export async function attestationOf(
  access: ContractAccess,
  subject: string,
): Promise<OnChainAttestation | null> {
  const [a] = await access.read('attestationOf', [toAddress(subject, 'subject')], 'reading an attestation');
  if (a.organization === ZeroAddress) return null;
  return {
    organization: (a.organization as string).toLowerCase(),
    expiresAt: Number(a.expiresAt),
    revoked: a.revoked as boolean,
    roleHash: hexlify(a.roleHash as string),
    identifierHash: hexlify(a.identifierHash as string),
  };
}

export async function isAttested(access: ContractAccess, account: string, role: string): Promise<boolean> {
  const [attested] = await access.read(
    'isAttested',
    [toAddress(account, 'account'), role],
    'reading an attestation',
  );
  return attested as boolean;
}
