import { randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { Logger } from '../logger.js';
import { ListenConnection } from './listen-connection.js';

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

/**
 * LISTEN/NOTIFY between the replicas of one node on a dedicated connection (a ListenConnection, as
 * session-events.ts has). Each payload starts with this process's origin, so a replica never hears its
 * own messages (it delivered them locally already). A message sent while the connection is down is
 * lost: these channels carry live notices only; what they point at is always re-read from Postgres.
 */
export class ReplicaChannel {
  /** This process; random per start. */
  readonly origin = randomBytes(6).toString('hex');
  private readonly connection: ListenConnection;
  private readonly listeners = new Map<string, ((payload: string) => void)[]>();

  constructor(
    url: string,
    private readonly dataSource: DataSource,
    private readonly logger: Logger,
  ) {
    this.connection = new ListenConnection({
      url,
      channels: Object.values(REPLICA_CHANNELS),
      onNotification: (channel, payload) => this.deliver(channel, payload),
      onLost: (error) => logger.warn('replica notifications lost; reconnecting', { error: error.message }),
    });
  }

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

  start(): Promise<void> {
    return this.connection.start();
  }

  stop(): Promise<void> {
    return this.connection.stop();
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
}
