import {
  BadUserInputError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  OmnichartError,
} from '../errors.js';
import { TransactionRevertedError } from './ledger-errors.js';

/**
 * Every custom error of the contract's ABI, as the code a client can act on. Keyed by the name the ABI
 * decodes (ledger-errors.ts `revertReason`), so nothing matches on message text; a test checks that
 * every error the ABI declares is listed here.
 */
export const CONTRACT_REVERTS: Record<string, () => OmnichartError> = {
  NotOwner: () => new ForbiddenError('only the contract owner (the network operator) may do this'),
  NotRelayer: () => new ForbiddenError('this node is not a relayer of the contract'),
  ZeroAddress: () => new BadUserInputError('the zero address is not an account'),
  EmptyBatch: () => new BadUserInputError('nothing to anchor: the batch is empty'),
  InvalidSignature: () =>
    new ForbiddenError('the contract refused the signature: it is not by the account that must sign this'),
  InvalidNonce: () =>
    new ConflictError('this signature was already used or is stale: fetch the typed data again and sign it'),
  GrantExpired: () => new BadUserInputError('the expiry is not in the future'),
  InvalidGrantee: () => new BadUserInputError('the grantee must be an account other than the patient'),
  UnknownGrant: () => new NotFoundError('the chain holds no such grant'),
  GrantAlreadyRevoked: () => new ConflictError('the grant is already revoked'),
  InvalidAuditRoot: () => new BadUserInputError('an audit root must not be zero'),
  InvalidSequenceRange: () => new BadUserInputError('an audit batch must cover a non-empty sequence range'),
  InvalidModel: () => new BadUserInputError('a model anchor needs a model id and a CID'),
  StaleRegistration: () =>
    new ConflictError('a newer registration of this account is already on chain: sign a fresh one'),
  RoleChanged: () => new ConflictError('an account keeps the role it first registered with'),
  InvalidIssuedAt: () =>
    new BadUserInputError('the registration time is not an ISO-8601 UTC time with milliseconds'),
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
  // Declared by the OpenZeppelin libraries the contract builds on.
  InvalidAccountNonce: () =>
    new ConflictError('this signature was already used or is stale: fetch the typed data again and sign it'),
  InvalidShortString: () => new BadUserInputError('a text field is not a valid short string'),
  StringTooLong: () => new BadUserInputError('a text field is too long for the contract'),
  StringsInsufficientHexLength: () => new BadUserInputError('a value does not fit its hex length'),
};

/** Sends a transaction; a revert becomes the matching domain error, other failures pass through. */
export async function relayedToContract<T>(send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (error) {
    if (!(error instanceof TransactionRevertedError)) throw error;
    const mapped = CONTRACT_REVERTS[error.reason];
    if (mapped) throw mapped();
    throw new BadUserInputError(`the contract refused the request: ${error.reason}`, {
      reason: error.reason,
    });
  }
}
