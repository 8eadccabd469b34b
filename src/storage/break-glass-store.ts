import type { DataSource } from 'typeorm';
import { BreakGlassPolicyEntity, GrantEntity } from './entities/index.js';

/** A break-glass access as the chain records it (the reason only where it was opened). */
export interface BreakGlassFields {
  /** The cache id, `bg-<the chain's break-glass id>`. */
  id: string;
  patient: string;
  practitioner: string;
  scopes: string;
  expiresAt: Date;
  reason: string | null;
  txHash: string;
  blockNumber: number;
}

/** The patient's standing answer to break-glass, as relayed or indexed. */
export interface BreakGlassPolicyRow {
  patient: string;
  refuse: boolean;
  txHash: string;
  blockNumber: number;
}

/** The break-glass rows of access_grant and the break_glass_policy table. */
export class BreakGlassStore {
  constructor(private readonly dataSource: DataSource) {}

  private get grants() {
    return this.dataSource.getRepository(GrantEntity);
  }

  /** Writes the grant row; a row already there (event and write-through) keeps its reason. */
  async save(fields: BreakGlassFields): Promise<GrantEntity> {
    await this.dataSource.query(
      `INSERT INTO access_grant (id, kind, patient, grantee, scopes, expires_at, reason, created_tx, created_block)
       VALUES ($1, 'BREAK_GLASS', $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (id) DO UPDATE SET reason = COALESCE(access_grant.reason, EXCLUDED.reason)`,
      [
        fields.id,
        fields.patient,
        fields.practitioner,
        fields.scopes,
        fields.expiresAt,
        fields.reason,
        fields.txHash,
        fields.blockNumber,
      ],
    );
    return this.grants.findOneByOrFail({ id: fields.id });
  }

  async grant(id: string): Promise<GrantEntity | null> {
    return this.grants.findOneBy({ id, kind: 'BREAK_GLASS' });
  }

  /** Stores an ending relayed by this node on a grant read with `grant`. */
  async saveEnded(grant: GrantEntity): Promise<GrantEntity> {
    return this.grants.save(grant);
  }

  /**
   * A BreakGlassEnded event. Before its BreakGlass event (that one retried from quarantine), it
   * leaves an ended row the late event keeps; an earlier ending wins.
   */
  async adoptEnded(
    fields: Omit<BreakGlassFields, 'reason' | 'blockNumber' | 'expiresAt'> & { endedAt: Date },
  ) {
    await this.dataSource.query(
      `INSERT INTO access_grant (id, kind, patient, grantee, scopes, expires_at, revoked_at, revoked_tx)
       VALUES ($1, 'BREAK_GLASS', $2, $3, $4, $6, $6, $5)
       ON CONFLICT (id) DO UPDATE SET revoked_at = EXCLUDED.revoked_at, revoked_tx = EXCLUDED.revoked_tx
        WHERE access_grant.revoked_at IS NULL`,
      [fields.id, fields.patient, fields.practitioner, fields.scopes, fields.txHash, fields.endedAt],
    );
  }

  /** The practitioner's break-glass on this chart that is neither ended nor expired, if any. */
  async openFor(patient: string, practitioner: string): Promise<GrantEntity | null> {
    return this.grants
      .createQueryBuilder('g')
      .where("g.kind = 'BREAK_GLASS' AND g.patient = :patient AND g.grantee = :practitioner", {
        patient,
        practitioner,
      })
      .andWhere('g.revoked_at IS NULL AND g.expires_at > now()')
      .getOne();
  }

  /**
   * The practitioner's break-glass accesses whose expiry is later than `seconds` ago (ended ones
   * count too), with the earliest such expiry.
   */
  async expiringWithin(
    practitioner: string,
    seconds: number,
  ): Promise<{ count: number; earliest: Date | null }> {
    const rows: { count: number; earliest: Date | null }[] = await this.dataSource.query(
      `SELECT count(*)::int AS count, min(expires_at) AS earliest FROM access_grant
        WHERE kind = 'BREAK_GLASS' AND grantee = $1
          AND expires_at > now() - make_interval(secs => $2)`,
      [practitioner, seconds],
    );
    return rows[0] ?? { count: 0, earliest: null };
  }

  async policy(patient: string): Promise<BreakGlassPolicyRow | null> {
    return this.dataSource.getRepository(BreakGlassPolicyEntity).findOneBy({ patient });
  }

  /** Relayed here or indexed from BreakGlassPolicySet: the latest one stands. */
  async savePolicy(row: BreakGlassPolicyRow): Promise<BreakGlassPolicyEntity> {
    await this.dataSource.getRepository(BreakGlassPolicyEntity).upsert(row, ['patient']);
    return Object.assign(new BreakGlassPolicyEntity(), row);
  }
}
