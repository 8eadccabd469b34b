import { AccountStore } from '../../src/storage/account-store.js';
import { AttestationStore } from '../../src/storage/attestation-store.js';
import { address, migratedDatabase } from '../helpers/migrated-database.js';
import { stopTestDatabaseServer } from '../helpers/test-database.js';

const alice = address(0x11);
const practitioner = address(0x22);
const hospital = address(0x33);
const clinic = address(0x44);

describe('AccountStore and AttestationStore', () => {
  let db: Awaited<ReturnType<typeof migratedDatabase>>;
  let accounts: AccountStore;
  let attestations: AttestationStore;

  beforeAll(async () => {
    db = await migratedDatabase();
    accounts = new AccountStore(db.dataSource);
    attestations = new AttestationStore(db.dataSource);
  });

  afterAll(async () => {
    await db.close();
    await stopTestDatabaseServer();
  });

  const registration = (issuedAt: string, changes: Record<string, unknown> = {}) => ({
    address: alice,
    role: 'PATIENT' as const,
    displayName: 'Alice',
    boxPublicKey: 'A'.repeat(43) + '=',
    issuedAt: new Date(issuedAt),
    signature: '0x' + 'ab'.repeat(65),
    keyAnchorTx: null,
    ...changes,
  });

  it('stores a registration only when it is newer than the one held, and never with another role', async () => {
    expect(await accounts.saveRegistration(registration('2026-05-01T10:00:00Z'))).toBe(true);
    expect(
      await accounts.saveRegistration(registration('2026-05-01T10:00:00Z', { displayName: 'Same time' })),
    ).toBe(false);
    expect(
      await accounts.saveRegistration(registration('2026-04-01T10:00:00Z', { displayName: 'Older' })),
    ).toBe(false);
    expect(
      await accounts.saveRegistration(
        registration('2026-06-01T10:00:00Z', { role: 'ADMIN', displayName: 'Admin' }),
      ),
    ).toBe(false);
    expect(
      await accounts.saveRegistration(registration('2026-06-01T10:00:00Z', { displayName: 'Alice B.' })),
    ).toBe(true);
    const stored = await accounts.find(alice);
    expect(stored).toMatchObject({ role: 'PATIENT', displayName: 'Alice B.' });
    // registeredAt is the first signed issue time, so a rebuilt cache answers the same.
    expect(stored?.createdAt.toISOString()).toBe('2026-05-01T10:00:00.000Z');
    expect(await accounts.isPatient(alice)).toBe(true);
    expect(await accounts.isPatient(practitioner)).toBe(false);
    expect(await accounts.find(practitioner)).toBeNull();
  });

  it('answers an attestation with whether its organization is admitted now', async () => {
    expect(await attestations.attestationWithOrganization(practitioner)).toBeNull();
    await attestations.adoptAttested({
      subject: practitioner,
      organization: hospital,
      role: 'PRACTITIONER',
      identifier: 'http://hl7.org/fhir/sid/us-npi|1234567893',
      expiresAt: new Date(Date.now() + 86_400_000),
      txHash: '0xattest',
      blockNumber: 10,
    });
    expect((await attestations.attestationWithOrganization(practitioner))?.organizationAdmitted).toBe(false);
    await attestations.saveOrganization({
      address: hospital,
      admitted: true,
      txHash: '0xadmit',
      blockNumber: 5,
    });
    const found = await attestations.attestationWithOrganization(practitioner);
    expect(found?.organizationAdmitted).toBe(true);
    expect(found?.attestation).toMatchObject({
      organization: hospital,
      role: 'PRACTITIONER',
      revokedAt: null,
    });
    await attestations.saveOrganization({
      address: hospital,
      admitted: false,
      txHash: '0xexpel',
      blockNumber: 12,
    });
    expect(await attestations.organization(hospital)).toMatchObject({ admitted: false, txHash: '0xexpel' });
  });

  it('lets a later Attested event win and an older one (retried from quarantine) change nothing', async () => {
    const base = {
      subject: practitioner,
      role: 'PRACTITIONER',
      identifier: 'http://hl7.org/fhir/sid/us-npi|1234567893',
      expiresAt: new Date(Date.now() + 86_400_000),
    };
    await attestations.adoptAttested({ ...base, organization: clinic, txHash: '0xlater', blockNumber: 20 });
    await attestations.adoptAttested({ ...base, organization: hospital, txHash: '0xolder', blockNumber: 15 });
    expect(await attestations.attestation(practitioner)).toMatchObject({
      organization: clinic,
      blockNumber: 20,
    });
  });

  it('keeps a revocation that arrived before the attestation it revokes', async () => {
    const subject = address(0x66);
    await attestations.adoptRevocation({
      subject,
      organization: hospital,
      revokedBy: hospital,
      txHash: '0xrevoke',
      blockNumber: 30,
    });
    await attestations.adoptAttested({
      subject,
      organization: hospital,
      role: 'ANALYST',
      identifier: 'urn:example|42',
      expiresAt: new Date(Date.now() + 86_400_000),
      txHash: '0xlate',
      blockNumber: 29,
    });
    const row = await attestations.attestation(subject);
    expect(row?.revokedAt).toBeInstanceOf(Date);
    expect(row?.revokedBy).toBe(hospital);
    // A new attestation after the revocation (a later block) reopens it.
    await attestations.adoptAttested({
      subject,
      organization: hospital,
      role: 'ANALYST',
      identifier: 'urn:example|42',
      expiresAt: new Date(Date.now() + 86_400_000),
      txHash: '0xagain',
      blockNumber: 31,
    });
    expect(await attestations.attestation(subject)).toMatchObject({ revokedAt: null, txHash: '0xagain' });
  });
});
