import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';
import type { RecordEntity, RecordVersionEntity } from './entities/index.js';
import { poolOf, prepared } from './pg-pool.js';
import { recordFromRow, versionFromRow } from './record-rows.js';

/** A record with the CID of its current version's envelope (null only if that row is missing). */
export interface RecordWithCid {
  record: RecordEntity;
  cid: string | null;
}

/** A current record with what its version row says about the content (for re-sealing). */
export interface CurrentRecord extends RecordWithCid {
  cid: string;
  contentHmac: string | null;
}

/** One metadata query over a chart (see {@link RecordStore.findInChart}). */
export interface ChartMetadataQuery {
  resourceType: string;
  codes: readonly string[] | null;
  until: Date | null;
  excludeStatus: readonly string[] | null;
}

/** A reference to look up among the records of one source in one chart. */
export interface ReferenceLookup {
  /** The caller's own position for the answer. */
  item: number;
  reference: string;
  patient: string;
  author: string;
}

/**
 * Reads of the record and record_version tables. The lookups on the `record(id)` path are named
 * statements on the pg pool (planned once per connection): under read load the query builder cost
 * more CPU than Postgres spent answering.
 */
export class RecordStore {
  private readonly pool: Pool;

  constructor(dataSource: DataSource) {
    this.pool = poolOf(dataSource);
  }

  /** A record and its current CID in one round trip, or null when there is no such record. */
  async recordWithCid(id: string): Promise<RecordWithCid | null> {
    const [row] = await prepared<Record<string, unknown>>(
      this.pool,
      'record_with_cid',
      `SELECT r.*, v.cid AS current_cid FROM record r
         LEFT JOIN record_version v ON v.record_id = r.id AND v.version = r.current_version
        WHERE r.id = $1`,
      [id],
    );
    if (!row) return null;
    return { record: recordFromRow(row), cid: (row.current_cid as string | null) ?? null };
  }

  /** The records with these ids (absent ones left out), as a replica re-reads another's writes. */
  async recordsByIds(ids: readonly string[]): Promise<RecordEntity[]> {
    if (ids.length === 0) return [];
    const rows = await prepared<Record<string, unknown>>(
      this.pool,
      'records_by_ids',
      'SELECT r.* FROM record r WHERE r.id = ANY($1::uuid[])',
      [ids],
    );
    return rows.map(recordFromRow);
  }

  /** The envelope CID of each (record, version), keyed `id:version`; missing pairs are absent. */
  async cidsOf(versions: readonly { recordId: string; version: number }[]): Promise<Map<string, string>> {
    if (versions.length === 0) return new Map();
    const rows = await prepared<{ record_id: string; version: number; cid: string }>(
      this.pool,
      'record_version_cids',
      `SELECT v.record_id, v.version, v.cid FROM record_version v
         JOIN unnest($1::uuid[], $2::int[]) AS t(record_id, version)
           ON v.record_id = t.record_id AND v.version = t.version`,
      [versions.map((v) => v.recordId), versions.map((v) => v.version)],
    );
    return new Map(rows.map((row) => [`${row.record_id}:${row.version}`, row.cid]));
  }

  /** The given (record, version) rows, keyed `id:version`; missing pairs are absent. */
  async versions(
    versions: readonly { recordId: string; version: number }[],
  ): Promise<Map<string, RecordVersionEntity>> {
    if (versions.length === 0) return new Map();
    const rows = await prepared<Record<string, unknown>>(
      this.pool,
      'record_versions_by_key',
      `SELECT v.* FROM record_version v
         JOIN unnest($1::uuid[], $2::int[]) AS t(record_id, version)
           ON v.record_id = t.record_id AND v.version = t.version`,
      [versions.map((v) => v.recordId), versions.map((v) => v.version)],
    );
    return new Map(rows.map((row) => [`${row.record_id}:${row.version}`, versionFromRow(row)]));
  }

  /** Every version of each record, newest first. */
  async versionsOf(recordIds: readonly string[]): Promise<RecordVersionEntity[]> {
    if (recordIds.length === 0) return [];
    const rows = await prepared<Record<string, unknown>>(
      this.pool,
      'record_versions_of',
      `SELECT * FROM record_version WHERE record_id = ANY($1::uuid[]) ORDER BY version DESC`,
      [[...recordIds]],
    );
    return rows.map(versionFromRow);
  }

  /**
   * For each query, the matching current records of the chart, newest first (clinical time, then id,
   * descending); answers the query's position with each record.
   */
  async findInChart(
    patient: string,
    queries: readonly ChartMetadataQuery[],
  ): Promise<{ query: number; record: RecordEntity }[]> {
    if (queries.length === 0) return [];
    const rows: Record<string, unknown>[] = await this.pool
      .query(
        `SELECT q.n, r.* FROM jsonb_to_recordset($2::jsonb)
                AS q(n int, resource_type text, codes text[], until timestamptz, exclude text[])
           JOIN record r ON r.patient = $1 AND r.resource_type = q.resource_type
          WHERE (q.codes IS NULL OR r.codes && q.codes)
            AND (q.until IS NULL OR r.effective_at <= q.until)
            AND (q.exclude IS NULL OR coalesce(r.status, '') <> ALL (q.exclude))
          ORDER BY q.n, r.effective_at DESC, r.id DESC`,
        [
          patient,
          JSON.stringify(
            queries.map((q, n) => ({
              n,
              resource_type: q.resourceType,
              codes: q.codes,
              until: q.until?.toISOString() ?? null,
              exclude: q.excludeStatus,
            })),
          ),
        ],
      )
      .then((result) => result.rows);
    return rows.map((row) => ({ query: Number(row.n), record: recordFromRow(row) }));
  }

  /** Every current record of a patient with its current CID and content HMAC. */
  async currentRecordsOf(patient: string): Promise<CurrentRecord[]> {
    const { rows } = await this.pool.query<Record<string, unknown>>(
      `SELECT r.*, v.cid AS current_cid, v.content_hmac AS current_hmac
         FROM record r JOIN record_version v ON v.record_id = r.id AND v.version = r.current_version
        WHERE r.patient = $1 ORDER BY r.id`,
      [patient],
    );
    return rows.map((row) => ({
      record: recordFromRow(row),
      cid: row.current_cid as string,
      contentHmac: (row.current_hmac as string | null) ?? null,
    }));
  }

  /**
   * The record each reference names among the same source's records of the same chart:
   * `urn:uuid:` / `urn:oid:` by the fullUrl it was imported under, `Type/id` by the source's own
   * id; where two match, the fullUrl wins, then the smallest id. Keyed `item\0reference`.
   */
  async referencedRecords(lookups: readonly ReferenceLookup[]): Promise<Map<string, string>> {
    if (lookups.length === 0) return new Map();
    // Two equality joins (by fullUrl; by type and source id), so each can use an index or a hash.
    const { rows } = await this.pool.query<{ i: number; reference: string; id: string }>(
      `WITH t AS (
         SELECT * FROM unnest($1::int[], $2::text[], $3::varchar[], $4::varchar[]) AS t(i, reference, patient, author)
       )
       SELECT DISTINCT ON (i, reference) i, reference, id FROM (
         SELECT t.i, t.reference, r.id, 0 AS rank FROM t
           JOIN record r ON r.patient = t.patient AND r.author = t.author AND r.full_url = t.reference
         UNION ALL
         SELECT t.i, t.reference, r.id, 1 AS rank FROM t
           JOIN record r ON r.patient = t.patient AND r.author = t.author
            AND r.resource_type = split_part(t.reference, '/', 1)
            AND r.source_id = split_part(t.reference, '/', 2)
          WHERE t.reference ~ '^[A-Za-z]+/[A-Za-z0-9.-]+$'
       ) found ORDER BY i, reference, rank, id`,
      [
        lookups.map((l) => l.item),
        lookups.map((l) => l.reference),
        lookups.map((l) => l.patient),
        lookups.map((l) => l.author),
      ],
    );
    return new Map(rows.map((row) => [`${row.i}\u0000${row.reference}`, row.id]));
  }
}
