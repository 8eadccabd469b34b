import { ZeroAddress, dataLength, isHexString, type TransactionReceipt } from 'ethers';
import { BadUserInputError } from '../errors.js';
import { omnichartInterface } from './contract-artifact.js';
import type { ContractAccess } from './contract-access.js';
import { toAddress } from './ids.js';
import type {
  GrantTypedData,
  GrantTypedDataParameters,
  OnChainGrant,
  RelayGrantParameters,
  RelayRevokeParameters,
  RevokeTypedData,
  RevokeTypedDataParameters,
  TxResult,
} from './ledger-types.js';
import { EIP712_DOMAIN_TYPE, GRANT_TYPE, REVOKE_TYPE, omnichartDomain } from './typed-data.js';

const UINT64_MAX = 2n ** 64n - 1n;
const UINT256_MAX = 2n ** 256n - 1n;

/** The Grant payload for the patient's wallet. */
export async function grantTypedData(
  access: ContractAccess,
  parameters: GrantTypedDataParameters,
): Promise<GrantTypedData> {
  const patient = toAddress(parameters.patient, 'patient');
  const grantee = toAddress(parameters.grantee, 'grantee');
  const expiresAt = unixSeconds(parameters.expiresAt, 'expiresAt');
  if (typeof parameters.scopes !== 'string') throw new BadUserInputError('scopes must be a string');
  const nonce =
    parameters.nonce === undefined ? await patientNonce(access, patient) : toUint(parameters.nonce, 'nonce');
  return {
    domain: omnichartDomain(access.chainId, access.contractAddress),
    types: { EIP712Domain: EIP712_DOMAIN_TYPE, Grant: GRANT_TYPE },
    primaryType: 'Grant',
    message: { patient, grantee, scopes: parameters.scopes, expiresAt, nonce: nonce.toString() },
  };
}

/** The Revoke payload for the patient's wallet. */
export async function revokeTypedData(
  access: ContractAccess,
  parameters: RevokeTypedDataParameters,
): Promise<RevokeTypedData> {
  const patient = toAddress(parameters.patient, 'patient');
  const grantId = toUint(parameters.grantId, 'grantId');
  const nonce =
    parameters.nonce === undefined ? await patientNonce(access, patient) : toUint(parameters.nonce, 'nonce');
  return {
    domain: omnichartDomain(access.chainId, access.contractAddress),
    types: { EIP712Domain: EIP712_DOMAIN_TYPE, Revoke: REVOKE_TYPE },
    primaryType: 'Revoke',
    message: { patient, grantId: grantId.toString(), nonce: nonce.toString() },
  };
}

export async function relayGrant(
  access: ContractAccess,
  parameters: RelayGrantParameters,
): Promise<TxResult & { grantId: string }> {
  const request = [
    toAddress(parameters.patient, 'patient'),
    toAddress(parameters.grantee, 'grantee'),
    parameters.scopes,
    unixSeconds(parameters.expiresAt, 'expiresAt'),
    toUint(parameters.nonce, 'nonce'),
  ];
  const receipt = await access.write('grantAccess', [request, toSignature(parameters.signature)]);
  const created = findEvent(access, receipt, 'GrantCreated');
  return { ...txResult(receipt), grantId: (created.args.grantId as bigint).toString() };
}

export async function relayRevoke(
  access: ContractAccess,
  parameters: RelayRevokeParameters,
): Promise<TxResult> {
  const receipt = await access.write('revokeAccess', [
    toUint(parameters.grantId, 'grantId'),
    toUint(parameters.nonce, 'nonce'),
    toSignature(parameters.signature),
  ]);
  return txResult(receipt);
}

export async function grantOnChain(access: ContractAccess, grantId: string): Promise<OnChainGrant | null> {
  const id = toUint(grantId, 'grantId');
  const [grant] = await access.read('getGrant', [id], 'reading a grant');
  if (grant.patient === ZeroAddress) return null;
  return {
    grantId: id.toString(),
    patient: grant.patient,
    grantee: grant.grantee,
    scopesHash: grant.scopesHash,
    expiresAt: Number(grant.expiresAt),
    revoked: grant.revoked,
  };
}

export async function isGrantActive(access: ContractAccess, grantId: string): Promise<boolean> {
  const [active] = await access.read('isGrantActive', [toUint(grantId, 'grantId')], 'reading a grant');
  return active as boolean;
}

export async function patientNonce(access: ContractAccess, patient: string): Promise<bigint> {
  const [nonce] = await access.read('nonces', [toAddress(patient, 'patient')], 'reading a nonce');
  return nonce as bigint;
}

export function txResult(receipt: TransactionReceipt): TxResult {
  return { txHash: receipt.hash, blockNumber: receipt.blockNumber };
}

/** The first `name` event the contract emitted in `receipt`. */
export function findEvent(access: ContractAccess, receipt: TransactionReceipt, name: string) {
  const topic = omnichartInterface.getEvent(name)!.topicHash;
  const contract = access.contractAddress.toLowerCase();
  const log = receipt.logs.find((l) => l.address.toLowerCase() === contract && l.topics[0] === topic);
  if (!log) throw new Error(`transaction ${receipt.hash} emitted no ${name} event`);
  return omnichartInterface.parseLog(log)!;
}

/** A uint256 from a bigint or a decimal (or 0x) string, or BAD_USER_INPUT. */
export function toUint(value: bigint | string | number, field: string, max = UINT256_MAX): bigint {
  let n: bigint;
  try {
    if (typeof value === 'string' && !/^(0x[0-9a-f]+|[0-9]+)$/i.test(value.trim())) throw new Error();
    n = BigInt(typeof value === 'string' ? value.trim() : value);
  } catch {
    throw new BadUserInputError(`${field} must be a non-negative integer, got ${String(value)}`);
  }
  if (n < 0n || n > max) throw new BadUserInputError(`${field} is out of range: ${n}`);
  return n;
}

/** Unix seconds as a uint64 the JS number can hold exactly. */
export function unixSeconds(value: number, field: string): number {
  if (!Number.isSafeInteger(value) || value < 0 || BigInt(value) > UINT64_MAX) {
    throw new BadUserInputError(`${field} must be unix seconds (a non-negative integer), got ${value}`);
  }
  return value;
}

export function toSignature(signature: string): string {
  if (typeof signature !== 'string' || !isHexString(signature) || dataLength(signature) !== 65) {
    throw new BadUserInputError('signature must be a 65-byte 0x-prefixed hex string');
  }
  return signature;
}
