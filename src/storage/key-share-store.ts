import type { DataSource } from 'typeorm';

/** A current record version of a chart, with the copy already made for one grantee, if any. */
export interface ShareCandidate {
  recordId: string;
  version: number;
  resourceType: string;
  cid: string;
  shareCid: string | null;
}

/** A copy of a record version's envelope with its key wrapped for a grantee. */
export interface KeyShare {
  recordId: string;
  version: number;
  grantee: string;
  cid: string;
}

/**
 * The record_key_share table (envelope copies made for grantees at grant time) and the box keys
 * of the accounts they are made for.
 */
export class KeyShareStore {
  constructor(private readonly dataSource: DataSource) {}

  /** Every current version of the patient's chart, with the grantee's copy of it if one was made. */
  async candidates(patient: string, grantee: string): Promise<ShareCandidate[]> {
    return this.dataSource.query(
      `SELECT r.id AS "recordId", v.version, r.resource_type AS "resourceType", v.cid, s.cid AS "shareCid"
         FROM record r JOIN record_version v ON v.record_id = r.id AND v.version = r.current_version
         LEFT JOIN record_key_share s ON s.record_id = v.record_id AND s.version = v.version AND s.grantee = $2
        WHERE r.patient = $1`,
      [patient, grantee],
    );
  }

  /**
   * Adds copies; one made again for the same version and grantee replaces the old. One statement
   * for the lot (the query builder's upsert took several milliseconds per step of a large grant).
   */
  async upsert(shares: readonly KeyShare[]): Promise<void> {
    if (shares.length === 0) return;
    await this.dataSource.query(
      `INSERT INTO record_key_share (record_id, version, grantee, cid)
       SELECT * FROM unnest($1::uuid[], $2::int[], $3::varchar[], $4::varchar[])
       ON CONFLICT (record_id, version, grantee) DO UPDATE SET cid = EXCLUDED.cid`,
      [
        shares.map((share) => share.recordId),
        shares.map((share) => share.version),
        shares.map((share) => share.grantee),
        shares.map((share) => share.cid),
      ],
    );
  }

  /** The grantee's copies of these versions, keyed `recordId:version`. */
  async sharesFor(
    grantee: string,
    versions: readonly { recordId: string; version: number }[],
  ): Promise<Map<string, string>> {
    if (versions.length === 0) return new Map();
    const rows: { record_id: string; version: number; cid: string }[] = await this.dataSource.query(
      `SELECT s.record_id, s.version, s.cid FROM record_key_share s
         JOIN unnest($2::uuid[], $3::int[]) AS t(record_id, version)
           ON s.record_id = t.record_id AND s.version = t.version
        WHERE s.grantee = $1`,
      [grantee, versions.map((v) => v.recordId), versions.map((v) => v.version)],
    );
    return new Map(rows.map((row) => [`${row.record_id}:${row.version}`, row.cid]));
  }

  /** Copies of the patient's current versions, with the box key (base64) each was made for. */
  async currentSharesOf(patient: string): Promise<{ recordId: string; boxPublicKey: string }[]> {
    return this.dataSource.query(
      `SELECT s.record_id AS "recordId", a.box_public_key AS "boxPublicKey"
         FROM record_key_share s
         JOIN record r ON r.id = s.record_id AND s.version = r.current_version
         JOIN account a ON a.address = s.grantee
        WHERE r.patient = $1`,
      [patient],
    );
  }

  /** An account's registered box public key (base64), or null when no such account is held. */
  async boxPublicKeyOf(address: string): Promise<string | null> {
    const rows: { box_public_key: string }[] = await this.dataSource.query(
      `SELECT box_public_key FROM account WHERE address = $1`,
      [address],
    );
    return rows[0]?.box_public_key ?? null;
  }
}
