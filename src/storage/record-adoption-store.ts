import type { DataSource } from 'typeorm';
import { RecordQuarantineEntity, type QuarantineReason } from './entities/index.js';

/** What this node holds of a record a version from elsewhere would continue. */
export interface HeldForAdoption {
  patient: string;
  resourceType: string;
  /** The record's current version, its CID and content HMAC. */
  version: number;
  cid: string;
  contentHmac: string | null;
  /** The CID held for the version being adopted, if that version is held already. */
  sameVersionCid: string | null;
  /** The anchor transaction of version 1 (null while it is not anchored). */
  homeTx: string | null;
}

/** A consent grant as judged at an anchor block. */
export interface ConsentGrantRow {
  scopes: string;
  createdBlock: number | null;
  revokedAt: Date | null;
  revokedBlock: number | null;
  expiresAt: Date;
}

/** A refused version to keep for the operator (or to retry, for VERSION_GAP). */
export interface QuarantineInput {
  recordId: string;
  version: number;
  cid: string;
  patient: string;
  author: string | null;
  anchorTx: string;
  anchorBlock: number;
  reason: QuarantineReason;
  detail: string;
}

/**
 * What adopting a version anchored at another node reads and keeps: the record it would continue,
 * the author's consent grants, and the record_quarantine table of versions refused.
 */
export class RecordAdoptionStore {
  constructor(private readonly dataSource: DataSource) {}

  async held(recordId: string, version: number): Promise<HeldForAdoption | null> {
    const [row] = (await this.dataSource.query(
      `SELECT r.patient, r.resource_type AS "resourceType", r.current_version AS version, v.cid,
              v.content_hmac AS "contentHmac",
              (SELECT h.cid FROM record_version h WHERE h.record_id = r.id AND h.version = $2) AS "sameVersionCid",
              (SELECT f.anchor_tx FROM record_version f WHERE f.record_id = r.id AND f.version = 1) AS "homeTx"
         FROM record r JOIN record_version v ON v.record_id = r.id AND v.version = r.current_version
        WHERE r.id = $1`,
      [recordId, version],
    )) as HeldForAdoption[];
    return row ?? null;
  }

  /** The consent grants (live or not) a patient gave a grantee. */
  async consentGrants(patient: string, grantee: string): Promise<ConsentGrantRow[]> {
    return this.dataSource.query(
      `SELECT scopes, created_block AS "createdBlock", revoked_at AS "revokedAt", revoked_block AS "revokedBlock",
              expires_at AS "expiresAt"
         FROM access_grant WHERE patient = $1 AND grantee = $2 AND kind = 'CONSENT'`,
      [patient, grantee],
    );
  }

  /** Keeps a refused version; a version refused again keeps its newest reason. */
  async quarantine(entry: QuarantineInput): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO record_quarantine (record_id, version, cid, patient, author, anchor_tx, anchor_block, reason, detail)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (record_id, version, cid) DO UPDATE SET reason = EXCLUDED.reason, detail = EXCLUDED.detail`,
      [
        entry.recordId,
        entry.version,
        entry.cid,
        entry.patient,
        entry.author,
        entry.anchorTx,
        entry.anchorBlock,
        entry.reason,
        entry.detail,
      ],
    );
  }

  /** Refused versions, newest first, of one record or all. */
  async quarantined(recordId?: string): Promise<RecordQuarantineEntity[]> {
    return this.dataSource
      .getRepository(RecordQuarantineEntity)
      .find({ where: recordId ? { recordId } : {}, order: { id: 'DESC' } });
  }

  /** Versions held back because the one before them was missing, oldest first. */
  async waitingFor(recordId: string, version: number): Promise<RecordQuarantineEntity[]> {
    return this.dataSource
      .getRepository(RecordQuarantineEntity)
      .find({ where: { recordId, version, reason: 'VERSION_GAP' }, order: { id: 'ASC' } });
  }
}
