import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { createDataSource } from '../../src/storage/data-source.js';
import { SessionStore } from '../../src/storage/session-store.js';
import { createTestDatabase, stopTestDatabaseServer } from '../helpers/test-database.js';

const alice = '0x' + 'a1'.repeat(20);
const bob = '0x' + 'b2'.repeat(20);
const inAnHour = () => new Date(Date.now() + 3600_000);

describe('SessionStore', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let dataSource: DataSource;
  let store: SessionStore;

  beforeAll(async () => {
    database = await createTestDatabase();
    dataSource = createDataSource(database.url);
    await dataSource.initialize();
    await dataSource.runMigrations();
    store = new SessionStore(dataSource);
    await dataSource.query(
      `INSERT INTO account (address, role, display_name, box_public_key, registration_issued_at, registration_signature)
       VALUES ($1, 'PATIENT', 'Alice', $2, now(), '0x')`,
      [alice, 'k'.repeat(44)],
    );
  });

  afterAll(async () => {
    await dataSource.destroy();
    await database.drop();
    await stopTestDatabaseServer();
  });

  it('consumes a challenge once, even when two logins race for it', async () => {
    await store.addChallenge({
      nonce: 'n-race',
      address: alice,
      message: 'siwe text',
      expiresAt: inAnHour(),
    });
    expect(await store.challenge('n-race')).toMatchObject({
      address: alice,
      message: 'siwe text',
      usedAt: null,
    });
    const outcomes = await Promise.all([store.consumeChallenge('n-race'), store.consumeChallenge('n-race')]);
    expect(outcomes.sort()).toEqual([false, true]);
    expect((await store.challenge('n-race'))?.usedAt).toBeInstanceOf(Date);
    expect(await store.challenge('never-issued')).toBeNull();
  });

  it('keeps the newest challenges of an address and sweeps expired ones of everyone', async () => {
    for (let i = 0; i < 4; i += 1) {
      await store.addChallenge({ nonce: `bob-${i}`, address: bob, message: `m${i}`, expiresAt: inAnHour() });
      await new Promise((resolve) => setTimeout(resolve, 5)); // distinct created_at
    }
    await store.trimChallenges(bob, 2);
    const left: { nonce: string }[] = await dataSource.query(
      `SELECT nonce FROM login_challenge WHERE address = $1 ORDER BY nonce`,
      [bob],
    );
    expect(left.map((r) => r.nonce)).toEqual(['bob-2', 'bob-3']);
    await store.addChallenge({
      nonce: 'old',
      address: alice,
      message: 'm',
      expiresAt: new Date(Date.now() - 7200_000),
    });
    expect(await store.deleteChallengesExpiredBefore(new Date(Date.now() - 3600_000))).toBe(1);
    expect(await store.challenge('old')).toBeNull();
  });

  it('finds a session by token hash with its account role, and revokes it once', async () => {
    const id = randomUUID();
    const expiresAt = inAnHour();
    await store.addSession({ id, tokenHash: 'f'.repeat(64), address: alice, expiresAt });
    expect(await store.sessionOfToken('f'.repeat(64))).toEqual({
      id,
      address: alice,
      role: 'PATIENT',
      expiresAt,
      revokedAt: null,
    });
    expect(await store.sessionOfToken('0'.repeat(64))).toBeNull();
    await store.revokeSession(id);
    const revokedAt = (await store.session(id))?.revokedAt;
    expect(revokedAt).toBeInstanceOf(Date);
    await store.revokeSession(id); // a second logout keeps the first time
    expect((await store.session(id))?.revokedAt).toEqual(revokedAt);
    expect(await store.session(randomUUID())).toBeNull();
  });
});
