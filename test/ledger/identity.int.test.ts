import { Wallet, getBytes, hexlify, keccak256, parseEther, toUtf8Bytes, type JsonRpcProvider } from 'ethers';
import { registrationMessage } from '../../src/auth/registration-message.js';
import { openLedger, type Ledger } from '../../src/ledger/chain-client.js';
import { omnichartInterface } from '../../src/ledger/contract-artifact.js';
import { TransactionRevertedError } from '../../src/ledger/ledger-errors.js';
import { silentLogger } from '../../src/logger.js';
import { advanceChainTime, newWallet, randomKey, signPayload, signedRegistration } from './helpers.js';
import { chainKinds, openTestChain, type TestChain } from '../helpers/test-chains.js';

const NPI = 'http://hl7.org/fhir/sid/us-npi|1234567893';

async function revertOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TransactionRevertedError);
  return (error as TransactionRevertedError).reason;
}

describe.each(chainKinds)(
  'identities on chain: registrations, admitted organizations, attestations, bounded break-glass on %s',
  (kind) => {
    let chain: TestChain;
    let ledger: Ledger;
    /** Another node's relayer: admitted as a relayer, but not the owner. */
    let other: Ledger;
    let provider: JsonRpcProvider;
    const gas: Record<string, bigint> = {};

    beforeAll(async () => {
      chain = await openTestChain(kind, randomKey());
      ledger = chain.ledger;
      provider = chain.provider;
      const otherKey = randomKey();
      await chain.fund(new Wallet(otherKey).address, parseEther('10'));
      await ledger.setRelayer(new Wallet(otherKey).address, true);
      other = await openLedger({
        rpcUrl: chain.rpcUrl,
        relayerKey: otherKey,
        contractAddress: ledger.contractAddress,
        logger: silentLogger,
      });
    });

    afterAll(async () => {
      console.log(
        `gas: ${Object.entries(gas)
          .map(([name, used]) => `${name} ${used}`)
          .join(', ')}`,
      );
      await other?.close();
      await chain?.close();
    });

    const gasOf = async (name: string, tx: { txHash: string }) => {
      gas[name] = (await provider.getTransactionReceipt(tx.txHash))!.gasUsed;
    };
    const inAnHour = async () => (await ledger.latestBlock()).timestamp + 3600;

    async function attested(role: 'PRACTITIONER' | 'ANALYST', organization: Wallet, expiresAt?: number) {
      const subject = newWallet();
      const payload = await ledger.attestationTypedData({
        subject: subject.address,
        role,
        organization: organization.address,
        identifier: NPI,
        expiresAt: expiresAt ?? (await inAnHour()),
      });
      const tx = await other.relayAttestation({
        ...payload.message,
        signature: await signPayload(organization, payload),
      });
      return { subject, tx };
    }

    async function admitted(): Promise<Wallet> {
      const organization = newWallet();
      await gasOf('admitOrganization', await ledger.admitOrganization(organization.address, true));
      return organization;
    }

    describe('registrations', () => {
      it('rebuilds, byte for byte, the text the node asks wallets to sign', async () => {
        const wallet = newWallet();
        const fields = {
          address: wallet.address.toLowerCase(),
          role: 'PRACTITIONER' as const,
          displayName: 'Dr. Ana Müller — cardiology',
          boxPublicKey: new Uint8Array(32).map((_, i) => 255 - i),
          issuedAt: new Date('2026-12-01T10:11:12.345Z'),
        };
        const onChain = await provider.call({
          to: ledger.contractAddress,
          data: omnichartInterface.encodeFunctionData('registrationText', [
            [
              wallet.address,
              fields.role,
              fields.displayName,
              hexlify(fields.boxPublicKey),
              '2026-12-01T10:11:12.345Z',
            ],
          ]),
        });
        const [bytes] = omnichartInterface.decodeFunctionResult('registrationText', onChain) as unknown as [
          string,
        ];
        expect(new TextDecoder().decode(getBytes(bytes))).toBe(registrationMessage(fields, ledger));
      });

      it("accepts only the account's own signature, newer issue times and the same role", async () => {
        const wallet = newWallet();
        const first = await signedRegistration(wallet, ledger, { issuedAt: new Date(Date.now() - 60_000) });
        await gasOf('registerAccount', await other.registerAccount(first));
        const key = await ledger.accountKey(wallet.address);

        // A relayer swapping in its own key: the signature no longer matches the text.
        const forgedKey = { ...first, boxPublicKey: new Uint8Array(32).fill(0xee) };
        expect(await revertOf(other.registerAccount(forgedKey))).toBe('InvalidSignature');
        // Signed by someone else over the same text.
        const byOther = await signedRegistration(newWallet(), ledger, { issuedAt: new Date() });
        expect(await revertOf(other.registerAccount({ ...byOther, account: wallet.address }))).toBe(
          'InvalidSignature',
        );
        // Replaying the registration (or an older one) cannot roll the key back.
        expect(await revertOf(other.registerAccount(first))).toBe('StaleRegistration');
        // The role is fixed.
        const asAnalyst = await signedRegistration(wallet, ledger, { role: 'ANALYST', issuedAt: new Date() });
        expect(await revertOf(other.registerAccount(asAnalyst))).toBe('RoleChanged');
        expect(await ledger.accountKey(wallet.address)).toEqual(key);

        // The account itself may rotate its key with a newer registration.
        const rotated = await signedRegistration(wallet, ledger, {
          boxPublicKey: new Uint8Array(32).fill(7),
        });
        await ledger.registerAccount(rotated);
        expect(await ledger.accountKey(wallet.address)).toEqual(new Uint8Array(32).fill(7));
        // A node key goes under the sending relayer's own address, never another account's.
        await other.registerNodeKey(new Uint8Array(32).fill(1));
        expect(await other.accountKey(other.relayerAddress)).toEqual(new Uint8Array(32).fill(1));
      });
    });

    describe('attestations', () => {
      it('only the owner admits organizations', async () => {
        expect(await revertOf(other.admitOrganization(newWallet().address, true))).toBe('NotOwner');
        expect(await ledger.owner()).toBe(ledger.relayerAddress.toLowerCase());
      });

      it('an admitted organization attests; anyone relays; expiry and withdrawal end it', async () => {
        const organization = await admitted();
        const { subject, tx } = await attested('PRACTITIONER', organization);
        await gasOf('attest', tx);
        expect(await ledger.isAttested(subject.address, 'PRACTITIONER')).toBe(true);
        expect(await ledger.isAttested(subject.address, 'ANALYST')).toBe(false);
        expect(await ledger.isAttested(organization.address, 'ORGANIZATION')).toBe(true);
        const stored = await ledger.attestationOf(subject.address);
        expect(stored).toMatchObject({
          organization: organization.address.toLowerCase(),
          revoked: false,
          roleHash: keccak256(toUtf8Bytes('PRACTITIONER')),
          identifierHash: keccak256(toUtf8Bytes(NPI)),
        });

        const shortLived = await attested(
          'ANALYST',
          organization,
          (await ledger.latestBlock()).timestamp + 50,
        );
        expect(await ledger.isAttested(shortLived.subject.address, 'ANALYST')).toBe(true);
        await advanceChainTime(provider, 60);
        expect(await ledger.isAttested(shortLived.subject.address, 'ANALYST')).toBe(false);

        await ledger.admitOrganization(organization.address, false);
        expect(await ledger.isAttested(subject.address, 'PRACTITIONER')).toBe(false);
      });

      it('refuses unadmitted signers, forged and replayed signatures, and roles it does not attest', async () => {
        const outsider = newWallet();
        const organization = await admitted();
        const subject = newWallet().address;
        const base = {
          subject,
          role: 'PRACTITIONER',
          organization: outsider.address,
          identifier: NPI,
          expiresAt: await inAnHour(),
        };
        const unadmitted = await ledger.attestationTypedData(base);
        expect(
          await revertOf(
            other.relayAttestation({
              ...unadmitted.message,
              signature: await signPayload(outsider, unadmitted),
            }),
          ),
        ).toBe('NotAdmittedOrganization');
        // Claimed for an admitted organization, signed by the outsider.
        const claimed = await ledger.attestationTypedData({ ...base, organization: organization.address });
        expect(
          await revertOf(
            other.relayAttestation({ ...claimed.message, signature: await signPayload(outsider, claimed) }),
          ),
        ).toBe('InvalidSignature');
        const signature = await signPayload(organization, claimed);
        await other.relayAttestation({ ...claimed.message, signature });
        expect(await revertOf(other.relayAttestation({ ...claimed.message, signature }))).toBe(
          'InvalidNonce',
        );
        const asOrganization = await ledger.attestationTypedData({
          ...base,
          organization: organization.address,
          role: 'ANALYST',
        });
        const admin = { ...asOrganization.message, role: 'ORGANIZATION' };
        expect(
          await revertOf(
            other.relayAttestation({
              ...admin,
              signature: await signPayload(organization, { ...asOrganization, message: admin }),
            }),
          ),
        ).toBe('InvalidAttestationRole');
      });

      it('the organization or the owner revokes; nobody else can', async () => {
        const organization = await admitted();
        const { subject } = await attested('PRACTITIONER', organization);
        const stranger = newWallet();
        const byStranger = await ledger.revokeAttestationTypedData({
          subject: subject.address,
          organization: organization.address,
          signer: stranger.address,
        });
        expect(
          await revertOf(
            other.relayRevokeAttestation({
              subject: subject.address,
              nonce: byStranger.message.nonce,
              signature: await signPayload(stranger, byStranger),
            }),
          ),
        ).toBe('InvalidSignature');
        const byOrganization = await ledger.revokeAttestationTypedData({
          subject: subject.address,
          organization: organization.address,
        });
        const revoked = await other.relayRevokeAttestation({
          subject: subject.address,
          nonce: byOrganization.message.nonce,
          signature: await signPayload(organization, byOrganization),
        });
        await gasOf('revokeAttestation', revoked);
        expect(await ledger.isAttested(subject.address, 'PRACTITIONER')).toBe(false);

        const second = await attested('ANALYST', organization);
        expect(await revertOf(other.ownerRevokeAttestation(second.subject.address))).toBe('NotOwner');
        await ledger.ownerRevokeAttestation(second.subject.address);
        expect(await ledger.isAttested(second.subject.address, 'ANALYST')).toBe(false);
      });
    });

    describe('break-glass', () => {
      it('needs an attested practitioner, one open per pair, at most an hour, and respects the patient policy', async () => {
        const patient = newWallet();
        const organization = await admitted();
        const { subject: practitioner } = await attested('PRACTITIONER', organization);
        const reason = 'unconscious in the emergency department';
        const expiresAt = await inAnHour();
        const glass = (who: string, until = expiresAt) =>
          ledger.recordBreakGlass({ patient: patient.address, practitioner: who, reason, expiresAt: until });

        expect(await revertOf(glass(newWallet().address))).toBe('NotAttested');
        expect(await revertOf(glass(practitioner.address, expiresAt + 7200))).toBe('BreakGlassTooLong');
        const opened = await glass(practitioner.address);
        await gasOf('recordBreakGlass', opened);
        expect(opened.reasonHash).toBe(keccak256(toUtf8Bytes(reason)));
        const receipt = await provider.getTransactionReceipt(opened.txHash);
        const event = omnichartInterface.parseLog(receipt!.logs[0]!)!;
        expect(event.name).toBe('BreakGlass');
        expect(event.args.toArray()).toEqual([
          BigInt(opened.breakGlassId),
          patient.address,
          practitioner.address,
          organization.address,
          opened.reasonHash,
          BigInt(expiresAt),
        ]);
        expect(await revertOf(glass(practitioner.address))).toBe('BreakGlassAlreadyOpen');
        await gasOf('endBreakGlass', await ledger.endBreakGlass(opened.breakGlassId));
        const again = await glass(practitioner.address);
        expect(Number(again.breakGlassId)).toBe(Number(opened.breakGlassId) + 1);
        await ledger.endBreakGlass(again.breakGlassId);

        // The patient's signed policy; a signature by anyone else is refused.
        const policy = await ledger.breakGlassPolicyTypedData({ patient: patient.address, refuse: true });
        expect(
          await revertOf(
            other.relayBreakGlassPolicy({
              ...policy.message,
              signature: await signPayload(newWallet(), policy),
            }),
          ),
        ).toBe('InvalidSignature');
        const set = await other.relayBreakGlassPolicy({
          ...policy.message,
          signature: await signPayload(patient, policy),
        });
        await gasOf('setBreakGlassPolicy', set);
        expect(await ledger.refusesBreakGlass(patient.address)).toBe(true);
        expect(await revertOf(glass(practitioner.address))).toBe('BreakGlassRefused');
      });
    });
  },
);
