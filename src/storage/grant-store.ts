import type { Pool } from 'pg';
import { In, IsNull, MoreThan, type DataSource } from 'typeorm';
import { GrantEntity } from './entities/index.js';
import { poolOf, prepared } from './pg-pool.js';

/** A consent grant as relayed (or indexed): every column but the timestamps the table sets. */
export type ConsentGrantFields = Omit<GrantEntity, 'createdAt' | 'kind' | 'revokedBlock'>;

/** An active consent grant with the grantee's box key, for wrapping record keys. */
export interface ActiveConsentKey {
  scopes: string;
  /** base64 X25519 public key of the grantee's account. */
  boxPublicKey: string;
}

/**
 * The active consent grants on the chart `$1` with their grantees' box keys: one text for
 * `activeConsentKeys` and the write lookup, so the two cannot come to mean different grants.
 */
export const ACTIVE_CONSENT_KEYS_QUERY = `SELECT g.scopes, a.box_public_key AS "boxPublicKey"
    FROM access_grant g JOIN account a ON a.address = g.grantee
   WHERE g.patient = $1 AND g.kind = 'CONSENT' AND g.revoked_at IS NULL AND g.expires_at > now()`;

/**
 * The consent rows of the access_grant table (break-glass rows are BreakGlassStore's), and the
 * caller's live grants of either kind, which access decisions rest on.
 */
export class GrantStore {
  private readonly pool: Pool;

  constructor(private readonly dataSource: DataSource) {
    this.pool = poolOf(dataSource);
  }

  private get grants() {
    return this.dataSource.getRepository(GrantEntity);
  }

  /** Writes a relayed consent grant through (it works before the indexer sees its event). */
  async saveConsent(fields: ConsentGrantFields): Promise<GrantEntity> {
    const grant = this.grants.create({ ...fields, kind: 'CONSENT' });
    await this.grants.upsert(grant, ['id']);
    return grant;
  }

  async consentGrant(id: string): Promise<GrantEntity | null> {
    return this.grants.findOneBy({ id, kind: In(['CONSENT']) });
  }

  /** Stores a revocation relayed by this node on a grant read with `consentGrant`. */
  async saveRevocation(grant: GrantEntity): Promise<GrantEntity> {
    return this.grants.save(grant);
  }

  /** Grants on the patient's chart (only those made to `grantee` when given), newest first. */
  async grantsOn(patient: string, grantee?: string): Promise<GrantEntity[]> {
    const where = grantee === undefined ? { patient } : { patient, grantee };
    return this.grants.find({ where, order: { createdAt: 'DESC' } });
  }

  /** The caller's grants on the chart that are neither revoked nor expired at `now`, of both kinds. */
  async liveGrants(patient: string, grantee: string, now: Date): Promise<GrantEntity[]> {
    return this.grants.find({
      where: { patient, grantee, revokedAt: IsNull(), expiresAt: MoreThan(now) },
    });
  }

  /**
   * Active consent grants on the chart, each with its grantee's box key (a write looks them up with
   * its identities instead, see RecordWriteStore.lookupForWrite; key rotation asks here).
   */
  async activeConsentKeys(patient: string): Promise<ActiveConsentKey[]> {
    return prepared<ActiveConsentKey & Record<string, unknown>>(
      this.pool,
      'active_consent_keys',
      ACTIVE_CONSENT_KEYS_QUERY,
      [patient],
    );
  }

  /** A GrantCreated event: inserted, or left as it is (a revocation that came first stays). */
  async adoptChainGrant(fields: Omit<ConsentGrantFields, 'revokedAt' | 'revokedTx'>): Promise<void> {
    await this.grants.upsert(
      { ...fields, kind: 'CONSENT' },
      { conflictPaths: ['id'], skipUpdateIfNoValuesChanged: true },
    );
  }

  /**
   * A GrantRevoked event. Arriving before its grant (the grant's event quarantined and retried
   * later), it leaves a revoked row, which the late grant cannot reopen; an earlier revocation wins.
   */
  async adoptChainRevocation(event: {
    grantId: string;
    patient: string;
    grantee: string;
    txHash: string;
    blockNumber: number;
    revokedAt: Date;
  }): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO access_grant (id, kind, patient, grantee, scopes, expires_at, revoked_at, revoked_tx, revoked_block)
       VALUES ($1, 'CONSENT', $2, $3, '', $6, $6, $4, $5)
       ON CONFLICT (id) DO UPDATE SET revoked_at = EXCLUDED.revoked_at, revoked_tx = EXCLUDED.revoked_tx,
              revoked_block = EXCLUDED.revoked_block
        WHERE access_grant.revoked_at IS NULL`,
      [event.grantId, event.patient, event.grantee, event.txHash, event.blockNumber, event.revokedAt],
    );
  }
}
