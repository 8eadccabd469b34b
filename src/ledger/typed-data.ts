import { verifyTypedData } from 'ethers';
import type { OmnichartDomain, TypedDataField } from './ledger-types.js';

/** EIP-712 domain fields, in the order the contract (OpenZeppelin EIP712) hashes them. */
export const EIP712_DOMAIN_TYPE: TypedDataField[] = [
  { name: 'name', type: 'string' },
  { name: 'version', type: 'string' },
  { name: 'chainId', type: 'uint256' },
  { name: 'verifyingContract', type: 'address' },
];

/** `Grant(address patient,address grantee,string scopes,uint64 expiresAt,uint256 nonce)` */
export const GRANT_TYPE: TypedDataField[] = [
  { name: 'patient', type: 'address' },
  { name: 'grantee', type: 'address' },
  { name: 'scopes', type: 'string' },
  { name: 'expiresAt', type: 'uint64' },
  { name: 'nonce', type: 'uint256' },
];

/** `Revoke(address patient,uint256 grantId,uint256 nonce)` */
export const REVOKE_TYPE: TypedDataField[] = [
  { name: 'patient', type: 'address' },
  { name: 'grantId', type: 'uint256' },
  { name: 'nonce', type: 'uint256' },
];

/** `Attestation(address subject,string role,address organization,string identifier,uint64 expiresAt,uint256 nonce)` */
export const ATTESTATION_TYPE: TypedDataField[] = [
  { name: 'subject', type: 'address' },
  { name: 'role', type: 'string' },
  { name: 'organization', type: 'address' },
  { name: 'identifier', type: 'string' },
  { name: 'expiresAt', type: 'uint64' },
  { name: 'nonce', type: 'uint256' },
];

/** `RevokeAttestation(address subject,address organization,uint256 nonce)` */
export const REVOKE_ATTESTATION_TYPE: TypedDataField[] = [
  { name: 'subject', type: 'address' },
  { name: 'organization', type: 'address' },
  { name: 'nonce', type: 'uint256' },
];

/** `BreakGlassPolicy(address patient,bool refuse,uint256 nonce)` */
export const BREAK_GLASS_POLICY_TYPE: TypedDataField[] = [
  { name: 'patient', type: 'address' },
  { name: 'refuse', type: 'bool' },
  { name: 'nonce', type: 'uint256' },
];

/** The contract's EIP-712 domain on `chainId`. */
export function omnichartDomain(chainId: bigint, verifyingContract: string): OmnichartDomain {
  if (chainId > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`chain id ${chainId} is too large`);
  return { name: 'Omnichart', version: '1', chainId: Number(chainId), verifyingContract };
}

/** Lower-case address that signed an eth_signTypedData_v4 payload, or null for a malformed signature. */
export function recoverTypedDataSigner(
  payload: { domain: OmnichartDomain; types: Record<string, TypedDataField[]>; message: object },
  signature: string,
): string | null {
  const { EIP712Domain: _domain, ...types } = payload.types;
  try {
    return verifyTypedData(
      payload.domain,
      types,
      payload.message as Record<string, unknown>,
      signature,
    ).toLowerCase();
  } catch {
    return null;
  }
}
