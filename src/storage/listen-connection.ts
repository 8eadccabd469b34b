import pg from 'pg';

const RECONNECT_DELAY_MS = 1000;

export interface ListenConnectionParameters {
  url: string;
  channels: readonly string[];
  onNotification(channel: string, payload: string): void;
  /** The connection is listening again (after start or a reconnect): notices sent meanwhile were lost. */
  onListening?(): void;
  /** The connection broke; it is retried every second until stop(). */
  onLost?(error: Error): void;
}

/**
 * A dedicated Postgres connection that LISTENs on some channels and reconnects by itself. Shared by
 * the session/account events and the replica channel, which differ only in what they do with a notice.
 */
export class ListenConnection {
  private client: pg.Client | null = null;
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | null = null;

  constructor(private readonly parameters: ListenConnectionParameters) {}

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
    const client = new pg.Client({ connectionString: this.parameters.url, keepAlive: true });
    // Events of a connection already given up on (its late 'end') must not take the new one down.
    client.on('error', (error) => this.client === client && this.lost(error));
    client.on('end', () => this.client === client && this.lost(new Error('connection ended')));
    client.on('notification', (message) => {
      if (message.payload) this.parameters.onNotification(message.channel, message.payload);
    });
    this.client = client;
    await client.connect();
    await client.query(this.parameters.channels.map((name) => `LISTEN ${name}`).join('; '));
    if (!this.stopped) this.parameters.onListening?.();
  }

  private lost(error: Error): void {
    if (this.stopped) return;
    this.parameters.onLost?.(error);
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
