import { Wallet } from 'ethers';
import type { DataSource } from 'typeorm';
import { AccountStore, type RegistrationRow } from '../../src/storage/account-store.js';
import { clearCache } from '../../src/storage/cache-reset.js';
import { createDataSource } from '../../src/storage/data-source.js';
import { SessionEvents } from '../../src/storage/session-events.js';
import { silentLogger } from '../../src/logger.js';
import { createTestDatabase, stopTestDatabaseServer } from '../helpers/test-database.js';

/** Two replicas of one node: their own AccountStore and notification connection, one database. */
interface Replica {
  accounts: AccountStore;
  events: SessionEvents;
  dataSource: DataSource;
}

async function until(condition: () => Promise<boolean>, ms = 3000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

const registration = (address: string, displayName: string, issuedAt: Date): RegistrationRow => ({
  address,
  role: 'PATIENT',
  displayName,
  boxPublicKey: 'k'.repeat(43) + '=',
  issuedAt,
  signature: '0x',
  keyAnchorTx: null,
});

describe('accounts cached per replica, dropped when written anywhere', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  const replicas: Replica[] = [];

  async function replica(): Promise<Replica> {
    const dataSource = createDataSource(database.url);
    await dataSource.initialize();
    const events = new SessionEvents(database.url, silentLogger);
    await events.start();
    const accounts = new AccountStore(dataSource);
    accounts.cacheWith(events);
    const made = { accounts, events, dataSource };
    replicas.push(made);
    return made;
  }

  const nameOn = async (on: Replica, address: string) => (await on.accounts.find(address))?.displayName;

  beforeAll(async () => {
    database = await createTestDatabase();
    const migrate = createDataSource(database.url);
    await migrate.initialize();
    await migrate.runMigrations();
    await migrate.destroy();
  });

  afterAll(async () => {
    for (const r of replicas) {
      await r.events.stop();
      await r.dataSource.destroy();
    }
    await database.drop();
    await stopTestDatabaseServer();
  });

  it('answers from memory once read, and a newer registration on another replica replaces it', async () => {
    const [a, b] = [await replica(), await replica()];
    const address = Wallet.createRandom().address.toLowerCase();
    expect(await a.accounts.saveRegistration(registration(address, 'First', new Date(1_000_000)))).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 300)); // the write's own announcement reaches b first
    expect(await nameOn(b, address)).toBe('First'); // read from Postgres, now held by b
    // Proof that b answers from memory: a change nobody announced goes unseen by b...
    await a.dataSource.query(`UPDATE account SET display_name = 'Silent' WHERE address = $1`, [address]);
    expect(await nameOn(b, address)).toBe('First');
    // ...while one written through the store is announced at commit and read afresh.
    expect(await a.accounts.saveRegistration(registration(address, 'Second', new Date(2_000_000)))).toBe(
      true,
    );
    expect(await until(async () => (await nameOn(b, address)) === 'Second', 2000)).toBe(true);
  });

  it('forgets every account after a cache reset on another replica', async () => {
    const [a, b] = [await replica(), await replica()];
    const address = Wallet.createRandom().address.toLowerCase();
    await a.accounts.saveRegistration(registration(address, 'Held', new Date(1_000_000)));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await nameOn(b, address)).toBe('Held');
    await clearCache(a.dataSource);
    expect(await until(async () => (await b.accounts.find(address)) === null, 2000)).toBe(true);
  });

  it('reads Postgres while its notifications are down', async () => {
    const a = await replica();
    const address = Wallet.createRandom().address.toLowerCase();
    await a.accounts.saveRegistration(registration(address, 'Before', new Date(1_000_000)));
    expect(await nameOn(a, address)).toBe('Before');
    await a.events.stop();
    await a.dataSource.query(`UPDATE account SET display_name = 'After' WHERE address = $1`, [address]);
    expect(await nameOn(a, address)).toBe('After');
  });
});
