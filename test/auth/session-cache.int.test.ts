import { Wallet } from 'ethers';
import pg from 'pg';
import type { DataSource } from 'typeorm';
import { LoginService } from '../../src/auth/login-service.js';
import type { AccountEntity } from '../../src/storage/entities/index.js';
import { createDataSource } from '../../src/storage/data-source.js';
import { SessionEvents } from '../../src/storage/session-events.js';
import { SessionStore } from '../../src/storage/session-store.js';
import { silentLogger } from '../../src/logger.js';
import { createTestDatabase, stopTestDatabaseServer } from '../helpers/test-database.js';

/** Two replicas of one node: their own LoginService and notification connection, one database. */
interface Replica {
  logins: LoginService;
  events: SessionEvents;
  dataSource: DataSource;
}

const wallet = Wallet.createRandom();
const address = wallet.address.toLowerCase();

async function until(condition: () => Promise<boolean>, ms = 3000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

describe('sessions cached per replica, evicted by a logout anywhere', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  const replicas: Replica[] = [];

  async function replica(sessionTtlSeconds = 3600): Promise<Replica> {
    const dataSource = createDataSource(database.url);
    await dataSource.initialize();
    const events = new SessionEvents(database.url, silentLogger);
    await events.start();
    const logins = new LoginService({
      sessions: new SessionStore(dataSource),
      accountOf: async (a) => (a === address ? ({ address, role: 'PATIENT' } as AccountEntity) : null),
      sessionEvents: events,
      chainId: 31337n,
      publicUrl: 'http://127.0.0.1:4000/graphql',
      challengeTtlSeconds: 300,
      sessionTtlSeconds,
    });
    const made = { logins, events, dataSource };
    replicas.push(made);
    return made;
  }

  async function signIn(on: Replica): Promise<string> {
    const { message } = await on.logins.challenge(address);
    return (await on.logins.login(message, await wallet.signMessage(message))).token;
  }

  /** Revokes every session in SQL without announcing it: only a replica that reads Postgres notices. */
  async function revokeSilently(on: Replica): Promise<void> {
    await on.dataSource.query(`UPDATE session SET revoked_at = now() WHERE revoked_at IS NULL`);
  }

  const accepts = (on: Replica, token: string) =>
    on.logins.authenticate(token).then(
      () => true,
      () => false,
    );

  beforeAll(async () => {
    database = await createTestDatabase();
    const migrate = createDataSource(database.url);
    await migrate.initialize();
    await migrate.runMigrations();
    await migrate.query(
      `INSERT INTO account (address, role, display_name, box_public_key, registration_issued_at, registration_signature)
       VALUES ($1, 'PATIENT', 'Cached', $2, now(), '0x')`,
      [address, 'k'.repeat(44)],
    );
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

  it('serves a session from memory once read, and a logout on another replica ends it there', async () => {
    const [a, b] = [await replica(), await replica()];
    const token = await signIn(a);
    expect(await accepts(b, token)).toBe(true); // read from Postgres, now held by b
    await revokeSilently(a);
    // Proof that b answers from memory: a revocation nobody announced goes unseen by b...
    expect(await accepts(b, token)).toBe(true);
    await a.dataSource.query(`UPDATE session SET revoked_at = NULL`);

    const caller = await a.logins.authenticate(token);
    await a.logins.logout(caller);
    expect(await accepts(a, token)).toBe(false); // at once on the replica that logged out
    expect(await until(async () => !(await accepts(b, token)), 2000)).toBe(true); // and soon on b
  });

  it('checks expiry on every use of a cached session', async () => {
    const short = await replica(1);
    const token = await signIn(short);
    expect(await accepts(short, token)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await expect(short.logins.authenticate(token)).rejects.toThrow('session expired');
  });

  it('reads Postgres while its notifications are cut off, and starts empty when they return', async () => {
    const [a, b] = [await replica(), await replica()];
    const token = await signIn(a);
    expect(await accepts(b, token)).toBe(true); // cached on b
    // Cut b's LISTEN connection from the server side, as a network partition or a restart would.
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    try {
      await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = current_database() AND query LIKE 'LISTEN %' AND pid <> pg_backend_pid()`,
      );
      expect(await until(async () => !b.events.live, 2000)).toBe(true);
      await revokeSilently(a); // a logout b cannot hear of
      expect(await accepts(b, token)).toBe(false);
      await a.dataSource.query(`UPDATE session SET revoked_at = NULL`);
      expect(await until(async () => b.events.live, 5000)).toBe(true); // reconnected
      expect(await accepts(b, token)).toBe(true); // read again, cached again
      await revokeSilently(a);
      expect(await accepts(b, token)).toBe(true); // from memory again: caching resumed
    } finally {
      await admin.end();
    }
  });
});
