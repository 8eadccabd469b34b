import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';
import { ConflictError } from '../errors.js';
import type { RecordEntity, RecordVersionEntity } from './entities/index.js';
import { ACTIVE_CONSENT_KEYS_QUERY, type ActiveConsentKey } from './grant-store.js';
import { poolOf, prepared } from './pg-pool.js';
import { recordFromRow, versionFromRow } from './record-rows.js';

/** One version row as the writer computed it (metadata from the resource, CID from the put). */
export interface VersionRowInput {
  id: string;
  version: number;
  resource_type: string;
  source_id: string | null;
  source_key: string | null;
  full_url: string | null;
  effective_at: string;
  codes: string[];
  status: string | null;
  cid: string;
  envelope_bytes: number;
  content_hmac: string;
  previous_cid: string | null;
  author_verified: boolean;
  written_at: string;
}

/** A whole write of one patient's chart by one author: committed all together or not at all. */
export interface VersionWrite {
  patient: string;
  author: string;
  rows: readonly VersionRowInput[];
  patientReferences: readonly string[];
  /** A re-seal also drops the grant-time key copies of these records. */
  dropKeyShares: boolean;
}

/** A record as a write left it, with the version row the write made. */
export interface WrittenRecord {
  record: RecordEntity;
  version: RecordVersionEntity;
}

/** A version sealed and anchored elsewhere, as adoption indexes it. */
export interface AnchoredVersionInput {
  recordId: string;
  version: number;
  patient: string;
  resourceType: string;
  sourceId: string | null;
  sourceKey: string | null;
  fullUrl: string | null;
  cid: string;
  envelopeBytes: number;
  author: string;
  contentHmac: string;
  previousCid: string | null;
  authorVerified: boolean;
  anchorTx: string;
  anchorBlock: number;
  effectiveAt: Date;
  codes: string[];
  status: string | null;
  writtenAt: Date;
  patientReferences: readonly string[];
}

/** A stored record as a write plan sees it: with its current CID and content HMAC. */
export interface HeldRecordRow {
  record: RecordEntity;
  cid: string;
  contentHmac: string | null;
}

/** What a write looks up before planning (see {@link RecordWriteStore.lookupForWrite}). */
export interface WriteLookup {
  account: { role: string; boxPublicKey: string } | null;
  existing: HeldRecordRow[];
  /** Patient references of the source already linked to another patient. */
  mismatched: string[];
  /** The chart's active consent grants with their grantees' box keys: whom new record keys are wrapped for. */
  consents: ActiveConsentKey[];
}

/**
 * The tables a record write touches — record, record_version, patient_alias, anchor_outbox,
 * record_key_share, record_quarantine — written so that a write is atomic: versions and their
 * outbox rows are committed together or not at all.
 */
export class RecordWriteStore {
  /** The write and its lookup run as named statements: planning them cost more than running them. */
  private readonly pool: Pool;

  constructor(private readonly dataSource: DataSource) {
    this.pool = poolOf(dataSource);
  }

  /**
   * One statement for the whole write (atomic on its own, one round trip). Answers the records as
   * written with their new version rows, so a reply about them needs no read-back.
   * @throws ConflictError (`CONCURRENT_WRITE`) when a concurrent write made one of these versions or
   *   identities first (a unique index refuses it, nothing is written)
   */
  async writeVersions(write: VersionWrite): Promise<WrittenRecord[]> {
    try {
      const rows = await prepared<Record<string, unknown>>(this.pool, 'write_versions', WRITE_SQL, [
        JSON.stringify(write.rows),
        write.author,
        write.patient,
        [...new Set(write.patientReferences)],
        write.dropKeyShares,
      ]);
      return rows.map((row) => ({
        record: recordFromRow(row),
        version: versionFromRow(row.written_version as Record<string, unknown>),
      }));
    } catch (error) {
      if ((error as { code?: string }).code === UNIQUE_VIOLATION) {
        throw new ConflictError('a concurrent write changed the same records; send it again', {
          reason: 'CONCURRENT_WRITE',
        });
      }
      throw error;
    }
  }

  /**
   * In one transaction: the version row (anchored already, so no outbox row), the source's Patient
   * aliases, the quarantine entry cleared, the record moved to it — guarded by the version it
   * continues, so a concurrent adoption cannot skip one. Answers the record, or null when the
   * version was held already or the record moved on (nothing written).
   */
  async commitAnchored(version: AnchoredVersionInput): Promise<RecordEntity | null> {
    const rows = await this.dataSource.transaction(async (tx) => {
      const inserted = await tx.query(
        `INSERT INTO record_version (record_id, version, cid, envelope_bytes, author, content_hmac, previous_cid,
                                     author_verified, anchor_tx, anchor_block, anchored_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now(), $11) ON CONFLICT DO NOTHING RETURNING version`,
        [
          version.recordId,
          version.version,
          version.cid,
          version.envelopeBytes,
          version.author,
          version.contentHmac,
          version.previousCid,
          version.authorVerified,
          version.anchorTx,
          version.anchorBlock,
          version.writtenAt,
        ],
      );
      if (inserted.length === 0) return [];
      await tx.query(
        `INSERT INTO patient_alias (source, reference, patient)
         SELECT $1, reference, $2 FROM unnest($3::varchar[]) AS reference ON CONFLICT DO NOTHING`,
        [version.author, version.patient, [...new Set(version.patientReferences)]],
      );
      await tx.query(`DELETE FROM record_quarantine WHERE record_id = $1 AND version = $2 AND cid = $3`, [
        version.recordId,
        version.version,
        version.cid,
      ]);
      return tx.query(
        `INSERT INTO record (id, patient, resource_type, source_id, source_key, full_url, author, current_version,
                             effective_at, codes, status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)
         ON CONFLICT (id) DO UPDATE SET current_version = EXCLUDED.current_version, effective_at = EXCLUDED.effective_at,
                codes = EXCLUDED.codes, status = EXCLUDED.status, source_id = EXCLUDED.source_id,
                full_url = coalesce(EXCLUDED.full_url, record.full_url), updated_at = EXCLUDED.updated_at
          WHERE record.current_version = EXCLUDED.current_version - 1
         RETURNING *`,
        [
          version.recordId,
          version.patient,
          version.resourceType,
          version.sourceId,
          version.sourceKey,
          version.fullUrl,
          version.author,
          version.version,
          version.effectiveAt.toISOString(),
          version.codes,
          version.status,
          version.writtenAt,
        ],
      );
    });
    const [row] = rows as Record<string, unknown>[];
    return row ? recordFromRow(row) : null;
  }

  /**
   * One round trip before a write: the patient's account, the author's stored records with the same
   * identities (type and source key) with the CID and HMAC of their current version, which of the
   * source's Patient references are already linked to another patient, and the chart's active
   * consent grants (the grantees a new record key is wrapped for).
   */
  async lookupForWrite(params: {
    patient: string;
    author: string;
    identities: readonly { resourceType: string; sourceKey: string }[];
    patientReferences: readonly string[];
  }): Promise<WriteLookup> {
    const [lookup] = await prepared<Record<string, unknown>>(this.pool, 'lookup_for_write', LOOKUP_SQL, [
      params.patient,
      params.author,
      params.identities.map((i) => i.resourceType),
      params.identities.map((i) => i.sourceKey),
      [...params.patientReferences],
    ]);
    const account = lookup.account as { role: string; box_public_key: string } | null;
    return {
      account: account ? { role: account.role, boxPublicKey: account.box_public_key } : null,
      existing: (lookup.existing as Record<string, unknown>[]).map((row) => ({
        record: recordFromRow(row),
        cid: row.cid as string,
        contentHmac: (row.content_hmac as string | null) ?? null,
      })),
      mismatched: lookup.mismatched as string[],
      consents: lookup.consents as ActiveConsentKey[],
    };
  }

  /** Which of these ids some record already has. */
  async takenIds(ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows: { id: string }[] = await this.dataSource.query(
      `SELECT id FROM record WHERE id = ANY($1::uuid[])`,
      [[...ids]],
    );
    return rows.map((row) => row.id);
  }
}

const UNIQUE_VIOLATION = '23505';

/**
 * New records, updated records (guarded by their current version), versions, Patient aliases,
 * anchor outbox rows and, for a re-seal, the grant-time key copies it replaces. A concurrent write
 * of the same identity or version fails on a unique index instead of duplicating.
 */
const WRITE_SQL = `
  WITH input AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb) AS t(
      id uuid, version int, resource_type varchar, source_id varchar, source_key varchar,
      full_url varchar, effective_at timestamptz, codes text[], status varchar, cid varchar,
      envelope_bytes int, content_hmac char(64), previous_cid varchar, author_verified boolean,
      written_at timestamptz)
  ),
  aliases AS (
    INSERT INTO patient_alias (source, reference, patient)
    SELECT $2, reference, $3 FROM unnest($4::varchar[]) AS reference
    ON CONFLICT DO NOTHING
  ),
  created AS (
    INSERT INTO record (id, patient, resource_type, source_id, source_key, full_url, author,
                        current_version, effective_at, codes, status, created_at, updated_at)
    SELECT id, $3, resource_type, source_id, source_key, full_url, $2, 1, effective_at, codes, status,
           written_at, written_at
      FROM input WHERE version = 1
    RETURNING *
  ),
  updated AS (
    UPDATE record r
       SET current_version = i.version, effective_at = i.effective_at, codes = i.codes,
           status = i.status, source_id = i.source_id, full_url = coalesce(i.full_url, r.full_url),
           updated_at = i.written_at
      FROM input i
     WHERE i.version > 1 AND r.id = i.id AND r.current_version = i.version - 1
    RETURNING r.*
  ),
  versions AS (
    INSERT INTO record_version (record_id, version, cid, envelope_bytes, author, content_hmac, previous_cid,
                                author_verified, created_at)
    SELECT id, version, cid, envelope_bytes, $2, content_hmac, previous_cid, author_verified, written_at FROM input
    RETURNING *
  ),
  outbox AS (
    INSERT INTO anchor_outbox (record_id, version, patient, cid)
    SELECT id, version, $3, cid FROM input
  ),
  shares AS (
    DELETE FROM record_key_share WHERE $5::boolean AND record_id IN (SELECT id FROM input)
  )
  SELECT w.*, to_jsonb(v) AS written_version
    FROM (SELECT * FROM created UNION ALL SELECT * FROM updated) w
    JOIN versions v ON v.record_id = w.id`;

const LOOKUP_SQL = `
  SELECT
    (SELECT row_to_json(a) FROM (SELECT role, box_public_key FROM account WHERE address = $1) a) AS account,
    (SELECT coalesce(json_agg(x), '[]'::json) FROM (
       SELECT r.*, v.cid, v.content_hmac
         FROM record r
         JOIN record_version v ON v.record_id = r.id AND v.version = r.current_version
        WHERE r.patient = $1 AND r.author = $2
          AND (r.resource_type, r.source_key) IN (SELECT * FROM unnest($3::varchar[], $4::varchar[]))
     ) x) AS existing,
    (SELECT coalesce(json_agg(reference), '[]'::json) FROM patient_alias
      WHERE source = $2 AND reference = ANY($5::varchar[]) AND patient <> $1) AS mismatched,
    (SELECT coalesce(json_agg(c), '[]'::json) FROM (${ACTIVE_CONSENT_KEYS_QUERY}) c) AS consents`;
