import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { LRUCache } from 'lru-cache';
import { SiweMessage } from 'siwe';
import { BadUserInputError, UnauthenticatedError } from '../errors.js';
import type { AccountEntity } from '../storage/entities/index.js';
import type { SessionEvents } from '../storage/session-events.js';
import type { SessionOfToken, SessionStore } from '../storage/session-store.js';
import { checksumAddress, normalizeAddress } from '../ledger/address.js';
import type { Caller } from './caller.js';

export interface LoginServiceOptions {
  sessions: SessionStore;
  /** The registered account at an address (logins are for registered accounts only). */
  accountOf: (address: string) => Promise<AccountEntity | null>;
  chainId: bigint;
  /** The public origin clients reach the node at; its host is the SIWE domain. */
  publicUrl: string;
  challengeTtlSeconds: number;
  sessionTtlSeconds: number;
  /** Called with the proven account before a session is issued (the per-account login limit). */
  beforeSession?: (account: string) => Promise<void>;
  /**
   * Logouts announced by any replica. With it, active sessions are kept in memory while it is live
   * (a logout anywhere evicts them); without it, every request reads its session from Postgres.
   */
  sessionEvents?: SessionEvents;
}

export interface Challenge {
  message: string;
  nonce: string;
  expiresAt: Date;
}

export interface IssuedSession {
  token: string;
  expiresAt: Date;
  account: AccountEntity;
}

/** Open challenges kept per address; asking for more drops the oldest. */
export const MAX_OPEN_CHALLENGES = 5;
/** Expired challenges stay this long (so a late login still hears "expired"), then they are swept. */
const EXPIRED_CHALLENGE_GRACE_MS = 60 * 60 * 1000;
const SWEEP_INTERVAL_MS = 60 * 1000;
/** Sessions kept in memory; beyond that the least recently used are read from Postgres again. */
const CACHED_SESSIONS = 10_000;

/** Sign-In with Ethereum (EIP-4361): one-time challenges in, bearer sessions out. */
export class LoginService {
  private readonly domain: string;
  private lastSweep = 0;
  /** Emits a session id when that session is logged out here, so live streams can end at once. */
  private readonly endedSessions = new EventEmitter();
  /**
   * Active sessions by token hash, so a signed-in request costs no session query. A session ends only
   * by logout (evicted here and, through `sessionEvents`, on every replica) or by expiry (checked on
   * every use); an account's role never changes. Used only while `sessionEvents` is live.
   */
  private readonly cached: LRUCache<string, SessionOfToken>;
  private readonly tokenHashOf = new Map<string, string>();
  /** Bumped by every eviction: a read that raced an eviction is not cached (it may be stale). */
  private evictions = 0;

  constructor(private readonly options: LoginServiceOptions) {
    this.domain = new URL(options.publicUrl).host;
    this.endedSessions.setMaxListeners(0);
    this.cached = new LRUCache<string, SessionOfToken>({
      max: CACHED_SESSIONS,
      dispose: (session) => this.tokenHashOf.delete(session.id),
    });
    options.sessionEvents?.onEnded((sessionId) => this.evict(sessionId));
    options.sessionEvents?.onGap(() => {
      this.evictions += 1;
      this.cached.clear();
    });
  }

  private evict(sessionId: string): void {
    this.evictions += 1;
    const tokenHash = this.tokenHashOf.get(sessionId);
    if (tokenHash) this.cached.delete(tokenHash);
  }

  async challenge(addressInput: string): Promise<Challenge> {
    const address = normalizeAddress(addressInput);
    const now = new Date();
    const expiresAt = new Date(now.getTime() + this.options.challengeTtlSeconds * 1000);
    const nonce = randomBytes(16).toString('hex');
    const message = new SiweMessage({
      domain: this.domain,
      address: checksumAddress(address),
      statement: 'Sign in to Omnichart.',
      uri: this.options.publicUrl,
      version: '1',
      chainId: Number(this.options.chainId),
      nonce,
      issuedAt: now.toISOString(),
      expirationTime: expiresAt.toISOString(),
    }).prepareMessage();
    await this.options.sessions.addChallenge({ nonce, address, message, expiresAt });
    await this.sweepChallenges(address);
    return { message, nonce, expiresAt };
  }

  /**
   * A challenge is the one row anyone can make the node write, so they are kept bounded: an address
   * keeps its newest MAX_OPEN_CHALLENGES, and expired ones are deleted (at most once a minute) an
   * hour after they expire. Whatever the request rate, the table holds at most an hour and a TTL of it.
   */
  private async sweepChallenges(address: string): Promise<void> {
    await this.options.sessions.trimChallenges(address, MAX_OPEN_CHALLENGES);
    if (Date.now() - this.lastSweep >= SWEEP_INTERVAL_MS) await this.sweepExpiredChallenges();
  }

  /** Deletes challenges that expired over an hour ago; returns how many. */
  async sweepExpiredChallenges(): Promise<number> {
    this.lastSweep = Date.now();
    return this.options.sessions.deleteChallengesExpiredBefore(
      new Date(Date.now() - EXPIRED_CHALLENGE_GRACE_MS),
    );
  }

  async login(message: string, signature: string): Promise<IssuedSession> {
    const parsed = parseSiwe(message);
    const { sessions } = this.options;
    const challenge = await sessions.challenge(parsed.nonce);
    // Only a message this node issued, unchanged, can be used to log in.
    if (!challenge || challenge.message !== message) {
      throw new UnauthenticatedError('unknown login challenge: request a new one with loginChallenge');
    }
    if (challenge.usedAt) throw new UnauthenticatedError('login challenge already used: request a new one');
    if (challenge.expiresAt.getTime() <= Date.now()) {
      throw new UnauthenticatedError('login challenge expired: request a new one');
    }
    const verdict = await parsed.verify(
      { signature, domain: this.domain, nonce: challenge.nonce },
      { suppressExceptions: true },
    );
    if (!verdict.success) {
      throw new UnauthenticatedError(
        `login signature rejected: ${verdict.error?.type ?? 'invalid signature'}`,
      );
    }
    const account = await this.options.accountOf(challenge.address);
    if (!account)
      throw new UnauthenticatedError('no account is registered for this address: registerAccount first');
    // Per account only now that the signature proves it: nobody can spend another account's logins.
    await this.options.beforeSession?.(account.address);

    // Consume the challenge atomically: two concurrent logins with one signature get one session.
    if (!(await sessions.consumeChallenge(challenge.nonce)))
      throw new UnauthenticatedError('login challenge already used: request a new one');

    const token = randomBytes(32).toString('base64url');
    const expiresAt = new Date(Date.now() + this.options.sessionTtlSeconds * 1000);
    await sessions.addSession({
      id: randomUUID(),
      tokenHash: hashToken(token),
      address: account.address,
      expiresAt,
    });
    return { token, expiresAt, account };
  }

  /** The caller behind a bearer token; UNAUTHENTICATED when unknown, expired or revoked. */
  async authenticate(token: string): Promise<Caller> {
    const tokenHash = hashToken(token);
    const caching = this.options.sessionEvents?.live === true;
    let row = caching ? this.cached.get(tokenHash) : undefined;
    if (!row) {
      const evictionsBefore = this.evictions;
      row = (await this.options.sessions.sessionOfToken(tokenHash)) ?? undefined;
      if (!row) throw new UnauthenticatedError('unknown session token: log in again');
      assertActive(row); // revoked or expired rows are never cached
      if (caching && this.options.sessionEvents?.live && this.evictions === evictionsBefore) {
        this.cached.set(tokenHash, row);
        this.tokenHashOf.set(row.id, tokenHash);
      }
    } else {
      assertActive(row); // it may have expired since it was cached
    }
    return { address: row.address, role: row.role, sessionId: row.id };
  }

  /**
   * When a session that is still active will expire; live streams re-check with it before each event
   * (a logout on another replica sharing this database shows up here).
   * @throws UnauthenticatedError when the session is unknown, revoked or expired.
   */
  async activeSessionExpiry(sessionId: string): Promise<Date> {
    const row = await this.options.sessions.session(sessionId);
    if (!row) throw new UnauthenticatedError('unknown session: log in again');
    assertActive(row);
    return row.expiresAt;
  }

  /** Calls `listener` when this session is logged out on this node; returns the unsubscribe. */
  onSessionEnded(sessionId: string, listener: () => void): () => void {
    this.endedSessions.on(sessionId, listener);
    return () => this.endedSessions.off(sessionId, listener);
  }

  async logout(caller: Caller): Promise<void> {
    await this.options.sessions.revokeSession(caller.sessionId);
    this.evict(caller.sessionId);
    this.endedSessions.emit(caller.sessionId);
  }
}

function assertActive(row: { revokedAt: Date | null; expiresAt: Date }): void {
  if (row.revokedAt) throw new UnauthenticatedError('session was revoked: log in again');
  if (new Date(row.expiresAt).getTime() <= Date.now()) {
    throw new UnauthenticatedError('session expired: log in again');
  }
}

function parseSiwe(message: string): SiweMessage {
  if (typeof message !== 'string' || message.length > 4096) {
    throw new BadUserInputError('message must be the SIWE text returned by loginChallenge', {
      field: 'message',
    });
  }
  try {
    return new SiweMessage(message);
  } catch {
    throw new BadUserInputError('message is not a valid Sign-In with Ethereum (EIP-4361) message', {
      field: 'message',
    });
  }
}

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
