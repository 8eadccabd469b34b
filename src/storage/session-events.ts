import type { Logger } from '../logger.js';
import { ListenConnection } from './listen-connection.js';

/** The channel a logout is announced on, so every replica sharing the database drops the session. */
export const SESSION_ENDED_CHANNEL = 'omnichart_session_ended';
/** The channel a changed account row is announced on (payload: its address, or `*` for all). */
export const ACCOUNT_CHANGED_CHANNEL = 'omnichart_account_changed';

/**
 * Listens for ended sessions on a dedicated Postgres connection (LISTEN/NOTIFY; the NOTIFY is sent in
 * the same statement that revokes the session, so it is delivered when the logout commits).
 * `live` is false while the connection is down: notifications sent meanwhile are lost, so a cache
 * must not be trusted then; every reconnect is announced with `onGap` so the cache starts empty.
 */
export class SessionEvents {
  private readonly connection: ListenConnection;
  private readonly endedListeners: ((sessionId: string) => void)[] = [];
  private readonly gapListeners: (() => void)[] = [];
  private readonly accountListeners: ((address: string) => void)[] = [];
  live = false;

  constructor(url: string, logger: Logger) {
    this.connection = new ListenConnection({
      url,
      channels: [SESSION_ENDED_CHANNEL, ACCOUNT_CHANGED_CHANNEL],
      onNotification: (channel, payload) => {
        const listeners =
          channel === SESSION_ENDED_CHANNEL
            ? this.endedListeners
            : channel === ACCOUNT_CHANGED_CHANNEL
              ? this.accountListeners
              : [];
        for (const listener of listeners) listener(payload);
      },
      onListening: () => {
        for (const listener of this.gapListeners) listener();
        this.live = true;
      },
      onLost: (error) => {
        const wasLive = this.live;
        this.live = false;
        for (const listener of this.gapListeners) listener();
        if (wasLive)
          logger.warn('session notifications lost; sessions are read from Postgres until they return', {
            error: error.message,
          });
      },
    });
  }

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

  start(): Promise<void> {
    return this.connection.start();
  }

  async stop(): Promise<void> {
    this.live = false;
    await this.connection.stop();
  }
}
