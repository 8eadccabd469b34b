import { randomInt } from 'node:crypto';
import pg from 'pg';
import type { Logger } from '../logger.js';

/** What a replica does: the leader runs the chain indexer, the audit anchorer and training. */
export type ReplicaRole = 'leader' | 'follower';

/**
 * Advisory lock keys (the two-int form, class and object). Well known, so every replica of a node
 * contends for the same leader lock in the node's database; advisory locks are per database, so
 * other nodes on the same Postgres server are not affected.
 */
export const LOCK_CLASS = {
  leader: 0x4f4d4301,
  /** One per live replica process: who signed an anchor batch, and whether it still runs. */
  presence: 0x4f4d4302,
  /** Serializes nonce assignment and broadcast of one relayer account across replicas. */
  relayerNonce: 0x4f4d4303,
} as const;
const LEADER_OBJECT = 1;

export interface LeaderElectionOptions {
  /** The node's Postgres (all replicas of one node share it). */
  url: string;
  /** How often a follower tries the lock and a leader checks its connection. */
  intervalMs: number;
  /**
   * How long start() keeps trying before it settles for following (a lone process restarted after a
   * crash may find its old session not yet gone); default 0.
   */
  waitAtStartMs?: number;
  logger: Logger;
}

/**
 * Leader election by a session-level Postgres advisory lock held on a dedicated connection. Postgres
 * releases the lock when that connection closes (the process died or lost the database), and the
 * next follower whose `pg_try_advisory_lock` comes round takes it: a handover within about one
 * interval. A leader whose heartbeat fails steps down at once, before Postgres may have noticed, so
 * two replicas never run the leader's work knowingly at the same time.
 * The same connection holds this process's presence lock (`presenceKey`).
 */
export class LeaderElection {
  /** This process's presence key (a random non-negative int4; advisory lock object ids are oids). */
  readonly presenceKey = randomInt(1, 2 ** 31 - 1);
  private client: pg.Client | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private current: ReplicaRole = 'follower';
  private round: Promise<void> = Promise.resolve();
  private readonly listeners: ((role: ReplicaRole) => void)[] = [];

  constructor(private readonly options: LeaderElectionOptions) {}

  get role(): ReplicaRole {
    return this.current;
  }

  /** Told every change of role, in order. */
  onChange(listener: (role: ReplicaRole) => void): void {
    this.listeners.push(listener);
  }

  /** Connects and tries the lock once before answering, so a lone replica leads from its start. */
  async start(): Promise<void> {
    const deadline = Date.now() + (this.options.waitAtStartMs ?? 0);
    await this.tick();
    while (this.current !== 'leader' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      await this.tick();
    }
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.round.catch(() => undefined);
    const client = this.client;
    this.client = null;
    // Closing the session releases both locks at once.
    await client?.end().catch(() => undefined);
    // Stopping with the node: nobody is told, the node is closing its duties itself.
    this.current = 'follower';
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.tick().finally(() => this.schedule());
    }, this.options.intervalMs);
    this.timer.unref();
  }

  private tick(): Promise<void> {
    this.round = this.round.catch(() => undefined).then(() => this.once());
    return this.round;
  }

  private async once(): Promise<void> {
    if (this.stopped) return;
    try {
      const client = this.client ?? (await this.connect());
      if (this.current === 'leader') {
        await client.query('SELECT 1');
        return;
      }
      const { rows } = await client.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock($1, $2) AS locked',
        [LOCK_CLASS.leader, LEADER_OBJECT],
      );
      if (rows[0]?.locked) this.become('leader');
    } catch (error) {
      this.lost(error as Error);
    }
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: this.options.url, keepAlive: true });
    client.on('error', (error) => this.client === client && this.lost(error));
    client.on('end', () => this.client === client && this.lost(new Error('connection ended')));
    this.client = client;
    await client.connect();
    await client.query('SELECT pg_advisory_lock($1, $2)', [LOCK_CLASS.presence, this.presenceKey]);
    return client;
  }

  /** The connection is gone, and with it any lock it held: step down now; the next round reconnects. */
  private lost(error: Error): void {
    const dead = this.client;
    this.client = null;
    void dead?.end().catch(() => undefined);
    if (this.stopped) return;
    if (this.current === 'leader')
      this.options.logger.warn('lost the leader lock; stepping down', { error: error.message });
    this.become('follower');
  }

  private become(role: ReplicaRole): void {
    if (this.current === role) return;
    this.current = role;
    this.options.logger.info(role === 'leader' ? 'this replica is the leader' : 'this replica follows', {
      presenceKey: this.presenceKey,
    });
    for (const listener of this.listeners) listener(role);
  }
}
