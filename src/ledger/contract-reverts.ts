import {
  BadUserInputError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  OmnichartError,
} from '../errors.js';
import { TransactionRevertedError } from './ledger-errors.js';

/** The contract's custom errors (decoded from its ABI) as the codes a client can act on. */
const REVERTS: Record<string, (reason: string) => OmnichartError> = {
  InvalidSignature: () =>
    new ForbiddenError('the contract refused the signature: it is not by the account that must sign this'),
  InvalidNonce: () =>
    new ConflictError('this signature was already used or is stale: fetch the typed data again and sign it'),
  GrantExpired: () => new BadUserInputError('the expiry is not in the future'),
  NotOwner: () => new ForbiddenError('only the contract owner (the network operator) may do this'),
  NotRelayer: () => new ForbiddenError('this node is not a relayer of the contract'),
  NotAdmittedOrganization: () =>
    new ForbiddenError('the organization is not admitted by the network operator'),
  InvalidAttestationRole: () => new BadUserInputError('organizations attest PRACTITIONER and ANALYST only'),
  InvalidSubject: () => new BadUserInputError('the subject must be another account than the organization'),
  UnknownAttestation: () => new NotFoundError('no active attestation for this account'),
  NotAttested: () =>
    new ForbiddenError('attestation missing: the chain holds no valid attestation for this role'),
  BreakGlassRefused: () => new ForbiddenError('the patient refuses break-glass access (a signed policy)'),
  BreakGlassAlreadyOpen: () =>
    new ConflictError('a break-glass access to this chart is already open for this practitioner'),
  UnknownBreakGlass: () => new NotFoundError('no such break-glass access'),
  BreakGlassTooLong: () => new BadUserInputError('break-glass lasts at most one hour'),
};

/** Sends a transaction; a revert becomes the matching domain error, other failures pass through. */
export async function relayedToContract<T>(send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (error) {
    if (!(error instanceof TransactionRevertedError)) throw error;
    const mapped = REVERTS[error.reason];
    if (mapped) throw mapped(error.reason);
    throw new BadUserInputError(`the contract refused the request: ${error.reason}`, {
      reason: error.reason,
    });
  }
}
