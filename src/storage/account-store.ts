import { LRUCache } from 'lru-cache';
import type { DataSource } from 'typeorm';
import { AccountEntity } from './entities/index.js';
import { ACCOUNT_CHANGED_CHANNEL, type SessionEvents } from './session-events.js';

const CACHED_ACCOUNTS = 10_000;

/** A registration as the account signed it, ready to store. */
export interface RegistrationRow {
  address: string;
  role: AccountEntity['role'];
  displayName: string;
  /** base64 X25519 public key. */
  boxPublicKey: string;
  issuedAt: Date;
  signature: string;
  keyAnchorTx: string | null;
}

/** The account table: registrations, as signed and anchored. */
export class AccountStore {
  private readonly cached = new LRUCache<string, AccountEntity>({ max: CACHED_ACCOUNTS });
  private events?: SessionEvents;
  /** Bumped by every invalidation: a read that raced one is not cached (it may be stale). */
  private invalidations = 0;

  constructor(private readonly dataSource: DataSource) {}

  /**
   * Keeps found accounts in memory while `events` is live: every registration write announces its
   * address in the same statement (delivered at commit, on every replica), a cache reset announces
   * `*`, and a lost connection empties the cache and stops caching until it is back.
   */
  cacheWith(events: SessionEvents): void {
    this.events = events;
    const invalidate = (address?: string) => {
      this.invalidations += 1;
      if (address && address !== '*') this.cached.delete(address);
      else this.cached.clear();
    };
    events.onAccountChanged(invalidate);
    events.onGap(() => invalidate());
  }

  async find(address: string): Promise<AccountEntity | null> {
    const caching = this.events?.live === true;
    if (caching) {
      const hit = this.cached.get(address);
      // A copy, so a caller that edits its entity cannot change what the next request sees.
      if (hit) return Object.assign(new AccountEntity(), hit);
    }
    const before = this.invalidations;
    const found = await this.dataSource.getRepository(AccountEntity).findOneBy({ address });
    if (found && caching && this.events?.live && this.invalidations === before) {
      this.cached.set(address, Object.assign(new AccountEntity(), found));
    }
    return found;
  }

  async isPatient(address: string): Promise<boolean> {
    return this.dataSource.getRepository(AccountEntity).exists({ where: { address, role: 'PATIENT' } });
  }

  /**
   * Writes a registration unless the stored one is as new (or has another role); true when written.
   * One statement, because the node's own chain indexer adopts the AccountRegistered event of a local
   * registration, possibly while the registration itself is still being saved (a read-then-insert
   * would collide on the address).
   */
  async saveRegistration(row: RegistrationRow): Promise<boolean> {
    const written: unknown[] = await this.dataSource.query(
      // registeredAt is the signed issue time, not the insert time, so a rebuilt cache answers the same.
      // The NOTIFY rides in the same statement, so every replica's account cache hears of it at commit.
      `WITH written AS (
       INSERT INTO account (address, role, display_name, box_public_key, registration_issued_at,
                            registration_signature, key_anchor_tx, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $5)
       ON CONFLICT (address) DO UPDATE SET display_name = EXCLUDED.display_name,
              box_public_key = EXCLUDED.box_public_key, registration_issued_at = EXCLUDED.registration_issued_at,
              registration_signature = EXCLUDED.registration_signature, key_anchor_tx = EXCLUDED.key_anchor_tx,
              updated_at = now()
        WHERE account.registration_issued_at < EXCLUDED.registration_issued_at AND account.role = EXCLUDED.role
       RETURNING address)
       SELECT address, pg_notify('${ACCOUNT_CHANGED_CHANNEL}', address) FROM written`,
      [
        row.address,
        row.role,
        row.displayName,
        row.boxPublicKey,
        row.issuedAt,
        row.signature,
        row.keyAnchorTx,
      ],
    );
    return written.length > 0;
  }
}
