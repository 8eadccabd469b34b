import type { DataSource } from 'typeorm';
import type { Role } from './entities/index.js';
import { SESSION_ENDED_CHANNEL } from './session-events.js';

/** A login challenge as the node issued it. */
export interface StoredChallenge {
  nonce: string;
  address: string;
  message: string;
  expiresAt: Date;
  usedAt: Date | null;
}

/** A session with the role of its account, as authentication needs it. */
export interface SessionOfToken {
  id: string;
  address: string;
  role: Role;
  expiresAt: Date;
  revokedAt: Date | null;
}

/**
 * The login_challenge and session tables. Plain SQL with parameters: `authenticate` runs on every
 * signed-in request, and the query builder it replaced cost more than the query itself.
 */
export class SessionStore {
  constructor(private readonly dataSource: DataSource) {}

  async addChallenge(challenge: Omit<StoredChallenge, 'usedAt'>): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO login_challenge (nonce, address, message, expires_at) VALUES ($1, $2, $3, $4)`,
      [challenge.nonce, challenge.address, challenge.message, challenge.expiresAt],
    );
  }

  /** Keeps an address's newest `keep` challenges and deletes the rest. */
  async trimChallenges(address: string, keep: number): Promise<void> {
    await this.dataSource.query(
      `DELETE FROM login_challenge WHERE nonce IN (
         SELECT nonce FROM login_challenge WHERE address = $1 ORDER BY created_at DESC, nonce OFFSET $2)`,
      [address, keep],
    );
  }

  /** Deletes challenges that expired before `before`; returns how many. */
  async deleteChallengesExpiredBefore(before: Date): Promise<number> {
    const [, deleted] = (await this.dataSource.query(`DELETE FROM login_challenge WHERE expires_at < $1`, [
      before,
    ])) as [unknown, number];
    return deleted;
  }

  async challenge(nonce: string): Promise<StoredChallenge | null> {
    const rows: StoredChallenge[] = await this.dataSource.query(
      `SELECT nonce, address, message, expires_at AS "expiresAt", used_at AS "usedAt"
         FROM login_challenge WHERE nonce = $1`,
      [nonce],
    );
    return rows[0] ?? null;
  }

  /** Marks an unused challenge used; false when another login consumed it first. */
  async consumeChallenge(nonce: string): Promise<boolean> {
    const [, updated] = (await this.dataSource.query(
      `UPDATE login_challenge SET used_at = now() WHERE nonce = $1 AND used_at IS NULL`,
      [nonce],
    )) as [unknown, number];
    return updated === 1;
  }

  async addSession(session: {
    id: string;
    tokenHash: string;
    address: string;
    expiresAt: Date;
  }): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO session (id, token_hash, address, expires_at) VALUES ($1, $2, $3, $4)`,
      [session.id, session.tokenHash, session.address, session.expiresAt],
    );
  }

  async sessionOfToken(tokenHash: string): Promise<SessionOfToken | null> {
    const rows: SessionOfToken[] = await this.dataSource.query(
      `SELECT s.id, s.expires_at AS "expiresAt", s.revoked_at AS "revokedAt", a.address, a.role
         FROM session s JOIN account a ON a.address = s.address
        WHERE s.token_hash = $1`,
      [tokenHash],
    );
    return rows[0] ?? null;
  }

  async session(id: string): Promise<{ expiresAt: Date; revokedAt: Date | null } | null> {
    const rows: { expiresAt: Date; revokedAt: Date | null }[] = await this.dataSource.query(
      `SELECT expires_at AS "expiresAt", revoked_at AS "revokedAt" FROM session WHERE id = $1`,
      [id],
    );
    return rows[0] ?? null;
  }

  /**
   * Revokes a session and, in the same statement, announces it on SESSION_ENDED_CHANNEL (delivered to
   * listeners when it commits), so replicas that cache sessions drop it.
   */
  async revokeSession(id: string): Promise<void> {
    await this.dataSource.query(
      `WITH revoked AS (
         UPDATE session SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING id)
       SELECT pg_notify($2, id::text) FROM revoked`,
      [id, SESSION_ENDED_CHANNEL],
    );
  }
}
