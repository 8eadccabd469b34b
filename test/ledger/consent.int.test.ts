import {
  AbiCoder,
  TypedDataEncoder,
  Wallet,
  concat,
  keccak256,
  toUtf8Bytes,
  type JsonRpcProvider,
} from 'ethers';
import { BadUserInputError } from '../../src/errors.js';
import { openLedger } from '../../src/ledger/chain-client.js';
import { omnichartInterface } from '../../src/ledger/contract-artifact.js';
import { TransactionRevertedError } from '../../src/ledger/ledger-errors.js';
import type { Ledger } from '../../src/ledger/chain-client.js';
import { silentLogger } from '../../src/logger.js';
import { advanceChainTime, newWallet, randomAddress, randomKey, signPayload } from './helpers.js';
import { chainKinds, openTestChain, type TestChain } from '../helpers/test-chains.js';

const GRANT_TYPE_STRING =
  'Grant(address patient,address grantee,string scopes,uint64 expiresAt,uint256 nonce)';
const REVOKE_TYPE_STRING = 'Revoke(address patient,uint256 grantId,uint256 nonce)';

/** The revert reason of a promise that must reject with TransactionRevertedError. */
async function revertOf(promise: Promise<unknown>): Promise<TransactionRevertedError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TransactionRevertedError);
  return error as TransactionRevertedError;
}

describe.each(chainKinds)('patient-signed consent on %s', (kind) => {
  let chain: TestChain;
  let ledger: Ledger;
  let provider: JsonRpcProvider;
  const relayerKey = randomKey();
  const relayer = new Wallet(relayerKey);

  beforeAll(async () => {
    chain = await openTestChain(kind, relayerKey);
    ledger = chain.ledger;
    provider = chain.provider;
  });

  afterAll(async () => {
    await chain?.close();
  });

  const inAnHour = async () => (await ledger.latestBlock()).timestamp + 3600;
  const gasOf = async (txHash: string) => (await provider.getTransactionReceipt(txHash))!.gasUsed;

  /** A grant payload signed by `signer` (the patient unless a test says otherwise). */
  async function signedGrant(
    patient: Wallet,
    overrides: { grantee?: string; scopes?: string; expiresAt?: number; signer?: Wallet } = {},
  ) {
    const payload = await ledger.grantTypedData({
      patient: patient.address,
      grantee: overrides.grantee ?? randomAddress(),
      scopes: overrides.scopes ?? 'patient/Observation.rs predict',
      expiresAt: overrides.expiresAt ?? (await inAnHour()),
    });
    const signature = await signPayload(overrides.signer ?? patient, payload);
    return { ...payload.message, signature };
  }

  it('publishes the EIP-712 types and domain the contract hashes', async () => {
    const payload = await ledger.grantTypedData({
      patient: randomAddress(),
      grantee: randomAddress(),
      scopes: 'patient/*.rs',
      expiresAt: 2_000_000_000,
    });
    expect(payload.domain).toEqual({
      name: 'Omnichart',
      version: '1',
      chainId: Number(ledger.chainId),
      verifyingContract: ledger.contractAddress,
    });
    expect(payload.primaryType).toBe('Grant');
    expect(payload.message.nonce).toBe('0');
    expect(JSON.parse(JSON.stringify(payload))).toEqual(payload);
    const { EIP712Domain: _domain, ...types } = payload.types;
    expect(TypedDataEncoder.from(types).encodeType('Grant')).toBe(GRANT_TYPE_STRING);

    const read = async (name: string) =>
      omnichartInterface.decodeFunctionResult(
        name,
        await provider.call({
          to: ledger.contractAddress,
          data: omnichartInterface.encodeFunctionData(name),
        }),
      )[0];
    expect(await read('GRANT_TYPEHASH')).toBe(keccak256(toUtf8Bytes(GRANT_TYPE_STRING)));
    expect(await read('REVOKE_TYPEHASH')).toBe(keccak256(toUtf8Bytes(REVOKE_TYPE_STRING)));
    expect(await read('domainSeparator')).toBe(TypedDataEncoder.hashDomain(payload.domain));

    // The digest a wallet signs, built by hand from the EIP-712 rules, equals ethers' hash.
    const m = payload.message;
    const structHash = keccak256(
      AbiCoder.defaultAbiCoder().encode(
        ['bytes32', 'address', 'address', 'bytes32', 'uint64', 'uint256'],
        [
          keccak256(toUtf8Bytes(GRANT_TYPE_STRING)),
          m.patient,
          m.grantee,
          keccak256(toUtf8Bytes(m.scopes)),
          m.expiresAt,
          m.nonce,
        ],
      ),
    );
    const digest = keccak256(concat(['0x1901', TypedDataEncoder.hashDomain(payload.domain), structHash]));
    expect(TypedDataEncoder.hash(payload.domain, types, m)).toBe(digest);
  });

  it('relays a grant the patient signed and stores it; gas within bounds', async () => {
    const patient = newWallet();
    const grantee = randomAddress();
    const scopes = 'patient/Observation.rs predict';
    const expiresAt = await inAnHour();
    const grant = await signedGrant(patient, { grantee, scopes, expiresAt });
    expect(grant.nonce).toBe('0');

    const result = await ledger.relayGrant(grant);
    expect(result.grantId).toBe('1');
    expect(await ledger.transactionBlock(result.txHash)).toBe(result.blockNumber);
    expect(await ledger.grantOnChain(result.grantId)).toEqual({
      grantId: '1',
      patient: patient.address,
      grantee,
      scopesHash: keccak256(toUtf8Bytes(scopes)),
      expiresAt,
      revoked: false,
    });
    expect(await ledger.isGrantActive(result.grantId)).toBe(true);
    expect(await ledger.patientNonce(patient.address)).toBe(1n);
    expect(await ledger.grantOnChain('999')).toBeNull();

    // Gas: the contract's first grant also starts grantCount; a patient's first grant starts their nonce.
    const second = await ledger.relayGrant(await signedGrant(patient, { scopes }));
    expect(second.grantId).toBe('2');
    const third = await ledger.relayGrant(await signedGrant(newWallet(), { scopes }));
    expect(third.grantId).toBe('3');
    const [firstEver, samePatient, newPatient] = await Promise.all(
      [result, second, third].map((r) => gasOf(r.txHash)),
    );
    console.log(
      `grantAccess gas: first ever ${firstEver}, new patient ${newPatient}, same patient again ${samePatient}`,
    );
    // Three new storage slots (22.1k each) dominate: patient+expiresAt+revoked, grantee, scopesHash.
    expect(samePatient).toBeGreaterThan(90_000n);
    expect(samePatient).toBeLessThan(125_000n);
    expect(newPatient - samePatient).toBeGreaterThan(15_000n); // nonce slot 0 -> 1
    expect(newPatient - samePatient).toBeLessThan(20_000n);
    expect(firstEver).toBeGreaterThan(newPatient);
    expect(firstEver).toBeLessThan(160_000n);
  });

  it('reverts a grant signed by another key, before sending anything', async () => {
    const patient = newWallet();
    const grant = await signedGrant(patient, { signer: newWallet() });
    const error = await revertOf(ledger.relayGrant(grant));
    expect(error.reason).toBe('InvalidSignature');
    expect(error.txHash).toBeUndefined(); // refused at gas estimation
    expect(await ledger.patientNonce(patient.address)).toBe(0n);
  });

  it('reverts a replayed grant signature (the nonce was used)', async () => {
    const patient = newWallet();
    const grant = await signedGrant(patient);
    const first = await ledger.relayGrant(grant);
    expect(await ledger.grantOnChain(first.grantId)).not.toBeNull();
    expect((await revertOf(ledger.relayGrant(grant))).reason).toBe('InvalidNonce');
    expect(await ledger.patientNonce(patient.address)).toBe(1n);
  });

  it('reverts a grant the operator (relayer) signs for a patient or for itself', async () => {
    const patient = newWallet();
    const forSomeone = await signedGrant(patient, { signer: relayer });
    expect((await revertOf(ledger.relayGrant(forSomeone))).reason).toBe('InvalidSignature');
    const forItself = await signedGrant(patient, { grantee: relayer.address, signer: relayer });
    expect((await revertOf(ledger.relayGrant(forItself))).reason).toBe('InvalidSignature');
  });

  it('reverts when the relayed scopes differ from the signed ones', async () => {
    const patient = newWallet();
    const grant = await signedGrant(patient, { scopes: 'patient/Observation.rs' });
    const widened = { ...grant, scopes: 'patient/*.cruds' };
    expect((await revertOf(ledger.relayGrant(widened))).reason).toBe('InvalidSignature');
  });

  it('reverts a grant already expired when relayed, and a grant to oneself', async () => {
    const patient = newWallet();
    const now = (await ledger.latestBlock()).timestamp;
    const expired = await signedGrant(patient, { expiresAt: now - 1 });
    expect((await revertOf(ledger.relayGrant(expired))).reason).toBe('GrantExpired');
    const toSelf = await signedGrant(patient, { grantee: patient.address });
    expect((await revertOf(ledger.relayGrant(toSelf))).reason).toBe('InvalidGrantee');
    expect(await ledger.patientNonce(patient.address)).toBe(0n);
  });

  it('rejects malformed input before touching the chain', async () => {
    const patient = newWallet();
    const grant = await signedGrant(patient);
    await expect(ledger.relayGrant({ ...grant, signature: '0x1234' })).rejects.toBeInstanceOf(
      BadUserInputError,
    );
    await expect(ledger.relayGrant({ ...grant, nonce: 'one' })).rejects.toBeInstanceOf(BadUserInputError);
    await expect(ledger.grantOnChain('-1')).rejects.toBeInstanceOf(BadUserInputError);
    await expect(
      ledger.grantTypedData({ patient: 'nobody', grantee: randomAddress(), scopes: '', expiresAt: 1 }),
    ).rejects.toBeInstanceOf(BadUserInputError);
  });

  it('lets anyone relay: the signature, not the sender, is the authority', async () => {
    const outsider = await openLedger({
      rpcUrl: chain.rpcUrl,
      relayerKey: randomKey(),
      contractAddress: ledger.contractAddress,
      logger: silentLogger,
    });
    try {
      await chain.fund(outsider.relayerAddress, 10n ** 18n);
      const patient = newWallet();
      const result = await outsider.relayGrant(await signedGrant(patient));
      expect((await ledger.grantOnChain(result.grantId))?.patient).toBe(patient.address);
    } finally {
      await outsider.close();
    }
  });

  it('revokes with the patient signature only; gas within bounds', async () => {
    const patient = newWallet();
    const grantee = newWallet();
    const { grantId } = await ledger.relayGrant(await signedGrant(patient, { grantee: grantee.address }));

    const byGrantee = await ledger.revokeTypedData({ patient: patient.address, grantId });
    expect(byGrantee.message).toEqual({ patient: patient.address, grantId, nonce: '1' });
    const granteeSignature = await signPayload(grantee, byGrantee);
    const refused = await revertOf(ledger.relayRevoke({ grantId, nonce: 1n, signature: granteeSignature }));
    expect(refused.reason).toBe('InvalidSignature');
    expect(await ledger.isGrantActive(grantId)).toBe(true);

    const payload = await ledger.revokeTypedData({ patient: patient.address, grantId: BigInt(grantId) });
    const signature = await signPayload(patient, payload);
    const revoked = await ledger.relayRevoke({ grantId, nonce: payload.message.nonce, signature });
    expect((await ledger.grantOnChain(grantId))?.revoked).toBe(true);
    expect(await ledger.isGrantActive(grantId)).toBe(false);
    expect(await ledger.patientNonce(patient.address)).toBe(2n);

    // Replaying the revoke fails on the revoked grant before its nonce is even looked at.
    const again = await revertOf(ledger.relayRevoke({ grantId, nonce: payload.message.nonce, signature }));
    expect(again.reason).toBe('GrantAlreadyRevoked');
    expect((await revertOf(ledger.relayRevoke({ grantId: '424242', nonce: 0n, signature }))).reason).toBe(
      'UnknownGrant',
    );

    const gas = await gasOf(revoked.txHash);
    console.log(`revokeAccess gas: ${gas}`);
    expect(gas).toBeGreaterThan(30_000n);
    expect(gas).toBeLessThan(50_000n);
  });

  it('reports a grant inactive once chain time passes its expiry', async () => {
    const patient = newWallet();
    const expiresAt = (await ledger.latestBlock()).timestamp + 100;
    const { grantId } = await ledger.relayGrant(await signedGrant(patient, { expiresAt }));
    expect(await ledger.isGrantActive(grantId)).toBe(true);
    await advanceChainTime(provider, 101);
    expect((await ledger.latestBlock()).timestamp).toBeGreaterThanOrEqual(expiresAt);
    expect(await ledger.isGrantActive(grantId)).toBe(false);
    expect((await ledger.grantOnChain(grantId))?.revoked).toBe(false);
  });
});
