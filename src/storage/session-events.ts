import pg from 'pg';
import type { Logger } from '../logger.js';

/** The channel a logout is announced on, so every replica sharing the database drops the session. */
export const SESSION_ENDED_CHANNEL = 'omnichart_session_ended';
/** The channel a changed account row is announced on (payload: its address, or `*` for all). */
export const ACCOUNT_CHANGED_CHANNEL = 'omnichart_account_changed';
const RECONNECT_DELAY_MS = 1000;

/**
 * Listens for ended sessions on a dedicated Postgres connection (LISTEN/NOTIFY; the NOTIFY is sent in
 * the same statement that revokes the session, so it is delivered when the logout commits).
 * `live` is false while the connection is down: notifications sent meanwhile are lost, so a cache
 * must not be trusted then; every reconnect is announced with `onGap` so the cache starts empty.
 */
export class SessionEvents {
  private client: pg.Client | null = null;
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private readonly endedListeners: ((sessionId: string) => void)[] = [];
  private readonly gapListeners: (() => void)[] = [];
  private readonly accountListeners: ((address: string) => void)[] = [];
  live = false;

  constructor(
    private readonly url: string,
    private readonly logger: Logger,
  ) {}

  onEnded(listener: (sessionId: string) => void): void {
    this.endedListeners.push(listener);
  }

  /** Called with the address of an account written anywhere (after commit), `*` after a cache reset. */
  onAccountChanged(listener: (address: string) => void): void {
    this.accountListeners.push(listener);
  }

  onGap(listener: () => void): void {
    this.gapListeners.push(listener);
  }

  async start(): Promise<void> {
    await this.connect().catch((error: Error) => this.lost(error));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.live = false;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    await this.client?.end().catch(() => undefined);
    this.client = null;
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url });
    // Events of a connection already given up on (its late 'end') must not take the new one down.
    client.on('error', (error) => this.client === client && this.lost(error));
    client.on('end', () => this.client === client && this.lost(new Error('connection ended')));
    client.on('notification', (message) => {
      if (!message.payload) return;
      const listeners =
        message.channel === SESSION_ENDED_CHANNEL
          ? this.endedListeners
          : message.channel === ACCOUNT_CHANGED_CHANNEL
            ? this.accountListeners
            : [];
      for (const listener of listeners) listener(message.payload);
    });
    this.client = client;
    await client.connect();
    await client.query(`LISTEN ${SESSION_ENDED_CHANNEL}; LISTEN ${ACCOUNT_CHANGED_CHANNEL}`);
    if (this.stopped) return;
    for (const listener of this.gapListeners) listener();
    this.live = true;
  }

  private lost(error: Error): void {
    if (this.stopped) return;
    const wasLive = this.live;
    this.live = false;
    for (const listener of this.gapListeners) listener();
    if (wasLive)
      this.logger.warn('session notifications lost; sessions are read from Postgres until they return', {
        error: error.message,
      });
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
