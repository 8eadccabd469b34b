import type { DataSource } from 'typeorm';
import { BreakGlassStore } from '../../src/storage/break-glass-store.js';
import { GrantStore } from '../../src/storage/grant-store.js';
import { address, insertAccount, migratedDatabase } from '../helpers/migrated-database.js';
import { stopTestDatabaseServer } from '../helpers/test-database.js';

const patient = address(0x11);
const doctor = address(0x22);
const nurse = address(0x33);
const hours = (n: number) => new Date(Date.now() + n * 3600_000);

describe('GrantStore and BreakGlassStore on access_grant', () => {
  let db: Awaited<ReturnType<typeof migratedDatabase>>;
  let dataSource: DataSource;
  let grants: GrantStore;
  let breakGlass: BreakGlassStore;

  beforeAll(async () => {
    db = await migratedDatabase();
    dataSource = db.dataSource;
    grants = new GrantStore(dataSource);
    breakGlass = new BreakGlassStore(dataSource);
    await insertAccount(dataSource, patient, 'PATIENT');
    await insertAccount(dataSource, doctor, 'PRACTITIONER', 'D'.repeat(43) + '=');
    await insertAccount(dataSource, nurse, 'PRACTITIONER', 'N'.repeat(43) + '=');
  });

  afterAll(async () => {
    await db.close();
    await stopTestDatabaseServer();
  });

  const consent = (id: string, grantee: string, scopes: string, expiresAt: Date) => ({
    id,
    patient,
    grantee,
    scopes,
    expiresAt,
    revokedAt: null,
    reason: null,
    createdTx: `0x${id}`,
    createdBlock: 1,
    revokedTx: null,
  });

  it('lists live grants only: not revoked, not expired, of this grantee on this chart', async () => {
    await grants.saveConsent(consent('101', doctor, 'patient/*.rs', hours(1)));
    await grants.saveConsent(consent('102', doctor, 'patient/*.rs', hours(-1)));
    await grants.saveConsent(consent('103', nurse, 'patient/*.rs', hours(1)));
    await grants.saveConsent(consent('104', doctor, 'patient/Condition.rs', hours(2)));
    await grants.adoptChainRevocation({
      grantId: '104',
      patient,
      grantee: doctor,
      txHash: '0xrevoke104',
      blockNumber: 9,
      revokedAt: new Date(),
    });
    const live = await grants.liveGrants(patient, doctor, new Date());
    expect(live.map((g) => g.id)).toEqual(['101']);
    expect(await grants.liveGrants(address(0x44), doctor, new Date())).toEqual([]);
  });

  it('keeps a revocation that arrived before its grant: the late GrantCreated cannot reopen it', async () => {
    const revokedAt = new Date('2026-05-01T10:00:00Z');
    await grants.adoptChainRevocation({
      grantId: '201',
      patient,
      grantee: doctor,
      txHash: '0xrevoke201',
      blockNumber: 20,
      revokedAt,
    });
    await grants.adoptChainGrant({
      id: '201',
      patient,
      grantee: doctor,
      scopes: 'patient/*.rs',
      expiresAt: hours(5),
      reason: null,
      createdTx: '0xgrant201',
      createdBlock: 19,
    });
    const row = await grants.consentGrant('201');
    expect(row?.revokedAt?.toISOString()).toBe(revokedAt.toISOString());
    expect(row?.revokedTx).toBe('0xrevoke201');
    // A second revocation event (a replay) does not move the first one's date.
    await grants.adoptChainRevocation({
      grantId: '201',
      patient,
      grantee: doctor,
      txHash: '0xother',
      blockNumber: 30,
      revokedAt: new Date(),
    });
    expect((await grants.consentGrant('201'))?.revokedTx).toBe('0xrevoke201');
  });

  it('gives the box keys of active consent grantees, and each grantee sees only their grants', async () => {
    const keys = await grants.activeConsentKeys(patient);
    expect(keys).toEqual(
      expect.arrayContaining([
        { scopes: 'patient/*.rs', boxPublicKey: 'D'.repeat(43) + '=' },
        { scopes: 'patient/*.rs', boxPublicKey: 'N'.repeat(43) + '=' },
      ]),
    );
    expect(keys).toHaveLength(2); // expired 102, revoked 104 and 201 are left out
    expect((await grants.grantsOn(patient, nurse)).map((g) => g.id)).toEqual(['103']);
    expect((await grants.grantsOn(patient)).map((g) => g.id).sort()).toEqual([
      '101',
      '102',
      '103',
      '104',
      '201',
    ]);
    expect(await grants.consentGrant('bg-1')).toBeNull();
  });

  it('keeps the reason of a break-glass written through when its chain event is applied after it', async () => {
    const fields = {
      id: 'bg-7',
      patient,
      practitioner: doctor,
      scopes: 'patient/*.rs',
      expiresAt: hours(1),
      txHash: '0xbg7',
      blockNumber: 40,
    };
    await breakGlass.save({ ...fields, reason: 'unconscious in the emergency room' });
    const fromEvent = await breakGlass.save({ ...fields, reason: null });
    expect(fromEvent.reason).toBe('unconscious in the emergency room');
    expect((await breakGlass.openFor(patient, doctor))?.id).toBe('bg-7');
    expect(await breakGlass.openFor(patient, nurse)).toBeNull();
    // A consent store read never returns a break-glass row.
    expect(await grants.consentGrant('bg-7')).toBeNull();
    expect((await breakGlass.grant('bg-7'))?.kind).toBe('BREAK_GLASS');
  });

  it('keeps an ending that arrived before its BreakGlass event', async () => {
    const endedAt = new Date(Date.now() - 60_000);
    await breakGlass.adoptEnded({
      id: 'bg-8',
      patient,
      practitioner: nurse,
      scopes: 'patient/*.rs',
      txHash: '0xend8',
      endedAt,
    });
    const late = await breakGlass.save({
      id: 'bg-8',
      patient,
      practitioner: nurse,
      scopes: 'patient/*.rs',
      expiresAt: hours(1),
      reason: null,
      txHash: '0xbg8',
      blockNumber: 41,
    });
    expect(late.revokedAt?.toISOString()).toBe(endedAt.toISOString());
    expect(await breakGlass.openFor(patient, nurse)).toBeNull();
  });

  it('counts a practitioner’s break-glass by expiry within the window, ended ones included', async () => {
    const within = await breakGlass.expiringWithin(doctor, 23 * 3600);
    expect(within.count).toBe(1);
    expect(within.earliest).toBeInstanceOf(Date);
    await breakGlass.save({
      id: 'bg-9',
      patient,
      practitioner: doctor,
      scopes: 'patient/*.rs',
      expiresAt: new Date(Date.now() - 24 * 3600_000),
      reason: null,
      txHash: '0xbg9',
      blockNumber: 42,
    });
    expect((await breakGlass.expiringWithin(doctor, 23 * 3600)).count).toBe(1);
    expect((await breakGlass.expiringWithin(nurse, 23 * 3600)).count).toBe(1);
    expect(await breakGlass.expiringWithin(address(0x55), 23 * 3600)).toEqual({ count: 0, earliest: null });
  });

  it('keeps the patient’s latest break-glass policy', async () => {
    expect(await breakGlass.policy(patient)).toBeNull();
    await breakGlass.savePolicy({ patient, refuse: true, txHash: '0xp1', blockNumber: 50 });
    await breakGlass.savePolicy({ patient, refuse: false, txHash: '0xp2', blockNumber: 51 });
    expect(await breakGlass.policy(patient)).toMatchObject({
      refuse: false,
      txHash: '0xp2',
      blockNumber: 51,
    });
  });
});
