import { ErrorFragment } from 'ethers';
import { OmnichartError } from '../../src/errors.js';
import { omnichartInterface } from '../../src/ledger/contract-artifact.js';
import { CONTRACT_REVERTS, relayedToContract } from '../../src/ledger/contract-reverts.js';
import { TransactionRevertedError, revertReason } from '../../src/ledger/ledger-errors.js';

/** What a client must be told for each custom error the contract declares (written from the contract). */
const EXPECTED_CODES: Record<string, string> = {
  NotOwner: 'FORBIDDEN',
  NotRelayer: 'FORBIDDEN',
  ZeroAddress: 'BAD_USER_INPUT',
  EmptyBatch: 'BAD_USER_INPUT',
  InvalidSignature: 'FORBIDDEN',
  InvalidNonce: 'CONFLICT',
  GrantExpired: 'BAD_USER_INPUT',
  InvalidGrantee: 'BAD_USER_INPUT',
  UnknownGrant: 'NOT_FOUND',
  GrantAlreadyRevoked: 'CONFLICT',
  InvalidAuditRoot: 'BAD_USER_INPUT',
  InvalidSequenceRange: 'BAD_USER_INPUT',
  InvalidModel: 'BAD_USER_INPUT',
  StaleRegistration: 'CONFLICT',
  RoleChanged: 'CONFLICT',
  InvalidIssuedAt: 'BAD_USER_INPUT',
  NotAdmittedOrganization: 'FORBIDDEN',
  InvalidAttestationRole: 'BAD_USER_INPUT',
  InvalidSubject: 'BAD_USER_INPUT',
  UnknownAttestation: 'NOT_FOUND',
  NotAttested: 'FORBIDDEN',
  BreakGlassRefused: 'FORBIDDEN',
  BreakGlassAlreadyOpen: 'CONFLICT',
  UnknownBreakGlass: 'NOT_FOUND',
  BreakGlassTooLong: 'BAD_USER_INPUT',
  InvalidAccountNonce: 'CONFLICT',
  InvalidShortString: 'BAD_USER_INPUT',
  StringTooLong: 'BAD_USER_INPUT',
  StringsInsufficientHexLength: 'BAD_USER_INPUT',
};

/** Custom errors declared in the compiled ABI (the contract's own and its OpenZeppelin libraries'). */
const declared = omnichartInterface.fragments.filter(
  (fragment): fragment is ErrorFragment => fragment.type === 'error',
);

/** Revert data as the contract returns it: selector and ABI-encoded arguments. */
function revertData(fragment: ErrorFragment): string {
  const args = fragment.inputs.map((input) =>
    input.baseType === 'address' ? '0x' + '11'.repeat(20) : input.baseType.startsWith('uint') ? 7n : '0x',
  );
  return omnichartInterface.encodeErrorResult(fragment, args);
}

describe('contract reverts', () => {
  it('maps every custom error the ABI declares, and nothing it does not', () => {
    expect(declared.length).toBe(29);
    expect(declared.map((f) => f.name).sort()).toEqual(Object.keys(EXPECTED_CODES).sort());
    expect(Object.keys(CONTRACT_REVERTS).sort()).toEqual(Object.keys(EXPECTED_CODES).sort());
  });

  it.each(declared.map((fragment) => [fragment.name, fragment] as const))(
    '%s: revert data decodes to its name and becomes its code',
    async (name, fragment) => {
      const reason = revertReason(revertData(fragment));
      expect(reason).toBe(name);
      const error = await relayedToContract(() => Promise.reject(new TransactionRevertedError(reason))).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(OmnichartError);
      expect((error as OmnichartError).code).toBe(EXPECTED_CODES[name]);
    },
  );

  it('names an error it does not know without guessing, and passes other failures through', async () => {
    const unknown = await relayedToContract(() =>
      Promise.reject(new TransactionRevertedError('unknown reason')),
    ).catch((e: unknown) => e);
    expect((unknown as OmnichartError).code).toBe('BAD_USER_INPUT');
    expect((unknown as Error).message).toContain('unknown reason');
    const network = new Error('socket hang up');
    await expect(relayedToContract(() => Promise.reject(network))).rejects.toBe(network);
  });
});
