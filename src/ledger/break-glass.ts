import { keccak256, toUtf8Bytes } from 'ethers';
import { BadUserInputError } from '../errors.js';
import type { ContractAccess } from './contract-access.js';
import { findEvent, patientNonce, toSignature, toUint, txResult, unixSeconds } from './consent.js';
import { toAddress } from './ids.js';
import type {
  BreakGlassPolicyTypedData,
  BreakGlassPolicyTypedDataParameters,
  RecordBreakGlassParameters,
  RelayBreakGlassPolicyParameters,
  TxResult,
} from './ledger-types.js';
import { BREAK_GLASS_POLICY_TYPE, EIP712_DOMAIN_TYPE, omnichartDomain } from './typed-data.js';

/** Publishes a break-glass access; the contract checks attestation, policy, one open per pair, length. */
export async function recordBreakGlass(
  access: ContractAccess,
  parameters: RecordBreakGlassParameters,
): Promise<TxResult & { reasonHash: string; breakGlassId: string }> {
  if (typeof parameters.reason !== 'string' || parameters.reason.trim() === '') {
    throw new BadUserInputError('a break-glass reason is required');
  }
  const reasonHash = keccak256(toUtf8Bytes(parameters.reason));
  const receipt = await access.write('recordBreakGlass', [
    toAddress(parameters.patient, 'patient'),
    toAddress(parameters.practitioner, 'practitioner'),
    reasonHash,
    unixSeconds(parameters.expiresAt, 'expiresAt'),
  ]);
  const event = findEvent(access, receipt, 'BreakGlass');
  return { ...txResult(receipt), reasonHash, breakGlassId: (event.args.breakGlassId as bigint).toString() };
}

export async function endBreakGlass(access: ContractAccess, breakGlassId: string): Promise<TxResult> {
  return txResult(await access.write('endBreakGlass', [toUint(breakGlassId, 'breakGlassId')]));
}

/** The BreakGlassPolicy payload for the patient's wallet. */
export async function breakGlassPolicyTypedData(
  access: ContractAccess,
  parameters: BreakGlassPolicyTypedDataParameters,
): Promise<BreakGlassPolicyTypedData> {
  const patient = toAddress(parameters.patient, 'patient');
  const nonce =
    parameters.nonce === undefined ? await patientNonce(access, patient) : toUint(parameters.nonce, 'nonce');
  return {
    domain: omnichartDomain(access.chainId, access.contractAddress),
    types: { EIP712Domain: EIP712_DOMAIN_TYPE, BreakGlassPolicy: BREAK_GLASS_POLICY_TYPE },
    primaryType: 'BreakGlassPolicy',
    message: { patient, refuse: parameters.refuse, nonce: nonce.toString() },
  };
}

export async function relayBreakGlassPolicy(
  access: ContractAccess,
  parameters: RelayBreakGlassPolicyParameters,
): Promise<TxResult> {
  const receipt = await access.write('setBreakGlassPolicy', [
    toAddress(parameters.patient, 'patient'),
    parameters.refuse,
    toUint(parameters.nonce, 'nonce'),
    toSignature(parameters.signature),
  ]);
  return txResult(receipt);
}

export async function refusesBreakGlass(access: ContractAccess, patient: string): Promise<boolean> {
  const [refuses] = await access.read(
    'refusesBreakGlass',
    [toAddress(patient, 'patient')],
    'reading a break-glass policy',
  );
  return refuses as boolean;
}
