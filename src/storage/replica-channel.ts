import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { DataSource } from 'typeorm';
import type { Logger } from '../logger.js';

/** The Postgres NOTIFY channels replicas of one node talk on; payloads carry ids only, never PHI. */
export const REPLICA_CHANNELS = {
  /** New record versions: `<recordId>:<version>` separated by commas. */
  records: 'omnichart_records',
  /** A stored access alert: its id. */
  alerts: 'omnichart_alerts',
  /** A follower asks the leader to catch up with the chain now. */
  catchUp: 'omnichart_catch_up',
  /** A training job was queued or changed: its id. */
  training: 'omnichart_training',
} as const;
export type ReplicaChannelName = keyof typeof REPLICA_CHANNELS;

/** NOTIFY payloads are capped at 8000 bytes; this leaves room for the origin prefix. */
export const MAX_PAYLOAD_BYTES = 7000;
const RECONNECT_DELAY_MS = 1000;

/**
 * LISTEN/NOTIFY between the replicas of one node on a dedicated connection (the same pattern as
 * session-events.ts). Each payload starts with this process's origin, so a replica never hears its
 * own messages (it delivered them locally already). A message sent while the connection is down is
 * lost: these channels carry live notices only; what they point at is always re-read from Postgres.
 */
export class ReplicaChannel {
  /** This process; random per start. */
  readonly origin = randomBytes(6).toString('hex');
  private client: pg.Client | null = null;
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private readonly listeners = new Map<string, ((payload: string) => void)[]>();

  constructor(
    private readonly url: string,
    private readonly dataSource: DataSource,
    private readonly logger: Logger,
  ) {}

  /** Messages from the other replicas on one channel. */
  on(channel: ReplicaChannelName, listener: (payload: string) => void): void {
    const name = REPLICA_CHANNELS[channel];
    this.listeners.set(name, [...(this.listeners.get(name) ?? []), listener]);
  }

  /** Tells the other replicas; delivered when the statement commits (it runs on its own). */
  async notify(channel: ReplicaChannelName, payload: string): Promise<void> {
    await this.dataSource.query('SELECT pg_notify($1, $2)', [
      REPLICA_CHANNELS[channel],
      `${this.origin}|${payload}`,
    ]);
  }

  async start(): Promise<void> {
    await this.connect().catch((error: Error) => this.lost(error));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    await this.client?.end().catch(() => undefined);
    this.client = null;
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, keepAlive: true });
    client.on('error', (error) => this.client === client && this.lost(error));
    client.on('end', () => this.client === client && this.lost(new Error('connection ended')));
    client.on('notification', (message) => this.deliver(message.channel, message.payload));
    this.client = client;
    await client.connect();
    for (const name of Object.values(REPLICA_CHANNELS)) await client.query(`LISTEN ${name}`);
  }

  private deliver(channel: string, payload: string | undefined): void {
    if (!payload) return;
    const bar = payload.indexOf('|');
    if (bar < 0 || payload.slice(0, bar) === this.origin) return;
    const body = payload.slice(bar + 1);
    for (const listener of this.listeners.get(channel) ?? []) {
      try {
        listener(body);
      } catch (error) {
        this.logger.warn('replica message not handled', { channel, error: (error as Error).message });
      }
    }
  }

  private lost(error: Error): void {
    if (this.stopped) return;
    this.logger.warn('replica notifications lost; reconnecting', { error: error.message });
    const dead = this.client;
    this.client = null;
    void dead?.end().catch(() => undefined);
    if (this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.stopped) void this.connect().catch((e: Error) => this.lost(e));
    }, RECONNECT_DELAY_MS);
    this.reconnectTimer.unref();
  }
}
