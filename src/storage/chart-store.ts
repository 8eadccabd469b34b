import type { DataSource } from 'typeorm';
import type { RecordEntity } from './entities/index.js';
import { recordFromRow } from './record-rows.js';

/** Which records of a chart a timeline lists (bounds already parsed). */
export interface TimelineSelection {
  patient: string;
  types?: readonly string[] | null;
  /** `system|code` matches exactly; a bare code matches it in any system. */
  code?: string | null;
  /** Inclusive lower bound of the clinical time. */
  from?: Date | null;
  /** Exclusive upper bound of the clinical time. */
  before?: Date | null;
}

/** A page position: the clinical time as Postgres printed it (microseconds kept) and the id. */
export interface TimelinePosition {
  at: string;
  id: string;
}

/** The summary lists a chart shows (active conditions and so on). */
export type SummaryList = 'conditions' | 'allergies' | 'medications' | 'immunizations';

/** Metadata queries over one patient's chart (the record and account tables; nothing decrypted). */
export class ChartStore {
  constructor(private readonly dataSource: DataSource) {}

  /** Records per resource type, by type name. */
  async counts(patient: string): Promise<{ resourceType: string; count: number }[]> {
    const rows: { resource_type: string; count: number }[] = await this.dataSource.query(
      `SELECT resource_type, count(*)::int AS count FROM record WHERE patient = $1
        GROUP BY resource_type ORDER BY resource_type`,
      [patient],
    );
    return rows.map((row) => ({ resourceType: row.resource_type, count: row.count }));
  }

  /** For each of `codes` (`system|code`), the latest Observation carrying it that is not in error. */
  async latestObservations(
    patient: string,
    codes: readonly string[],
  ): Promise<{ code: string; record: RecordEntity }[]> {
    const rows: Record<string, unknown>[] = await this.dataSource.query(
      `SELECT DISTINCT ON (c.code) c.code AS vital_code, r.*
         FROM record r CROSS JOIN LATERAL unnest(r.codes) AS c(code)
        WHERE r.patient = $1 AND r.resource_type = 'Observation' AND c.code = ANY($2::text[])
          AND coalesce(r.status, '') NOT IN ('entered-in-error', 'cancelled')
        ORDER BY c.code, r.effective_at DESC, r.id DESC`,
      [patient, [...codes]],
    );
    return rows.map((row) => ({ code: String(row.vital_code), record: recordFromRow(row) }));
  }

  /** The newest `limit` records of each summary list, newest first overall. */
  async summaryLists(patient: string, limit: number): Promise<{ list: SummaryList; record: RecordEntity }[]> {
    const rows: Record<string, unknown>[] = await this.dataSource.query(
      `SELECT * FROM (
         SELECT CASE
                  WHEN resource_type = 'Condition' AND status IN ('active', 'recurrence', 'relapse') THEN 'conditions'
                  WHEN resource_type = 'AllergyIntolerance' AND coalesce(status, 'active') = 'active' THEN 'allergies'
                  WHEN resource_type IN ('MedicationRequest', 'MedicationStatement') AND status = 'active' THEN 'medications'
                  WHEN resource_type = 'Immunization' AND status = 'completed' THEN 'immunizations'
                END AS list, r.*,
                row_number() OVER (PARTITION BY resource_type ORDER BY effective_at DESC, id DESC) AS n
           FROM record r
          WHERE patient = $1
            AND resource_type IN ('Condition', 'AllergyIntolerance', 'MedicationRequest', 'MedicationStatement', 'Immunization')
       ) x WHERE list IS NOT NULL AND n <= $2 ORDER BY effective_at DESC, id DESC`,
      [patient, limit],
    );
    return rows.map((row) => ({ list: row.list as SummaryList, record: recordFromRow(row) }));
  }

  /**
   * Up to `limit` records of the selection newest first (clinical time, then id), after `after`;
   * each with its position for the next page.
   */
  async timelinePage(
    selection: TimelineSelection,
    after: TimelinePosition | null,
    limit: number,
  ): Promise<{ record: RecordEntity; position: TimelinePosition }[]> {
    const { where, params } = selectionWhere(selection);
    if (after) {
      params.push(after.at, after.id);
      where.push(`(effective_at, id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
    }
    params.push(limit);
    const rows: Record<string, unknown>[] = await this.dataSource.query(
      `SELECT *, effective_at::text AS cursor_at FROM record WHERE ${where.join(' AND ')}
        ORDER BY effective_at DESC, id DESC LIMIT $${params.length}`,
      params,
    );
    return rows.map((row) => ({
      record: recordFromRow(row),
      position: { at: String(row.cursor_at), id: String(row.id) },
    }));
  }

  async timelineCount(selection: TimelineSelection): Promise<number> {
    const { where, params } = selectionWhere(selection);
    const [row] = await this.dataSource.query(
      `SELECT count(*)::int AS count FROM record WHERE ${where.join(' AND ')}`,
      params,
    );
    return row.count;
  }

  /** Records per author and type, with the author's account name and role when registered. */
  async sources(
    patient: string,
  ): Promise<
    { author: string; displayName: string | null; role: string | null; resourceType: string; count: number }[]
  > {
    return this.dataSource.query(
      `SELECT r.author, a.display_name AS "displayName", a.role, r.resource_type AS "resourceType",
              count(*)::int AS count
         FROM record r LEFT JOIN account a ON a.address = r.author
        WHERE r.patient = $1
        GROUP BY r.author, a.display_name, a.role, r.resource_type
        ORDER BY r.author, r.resource_type`,
      [patient],
    );
  }
}

function selectionWhere(selection: TimelineSelection): { where: string[]; params: unknown[] } {
  const where = ['patient = $1'];
  const params: unknown[] = [selection.patient];
  if (selection.types?.length) {
    params.push([...selection.types]);
    where.push(`resource_type = ANY($${params.length}::varchar[])`);
  }
  if (selection.code) {
    params.push(selection.code);
    where.push(
      selection.code.includes('|')
        ? `codes @> ARRAY[$${params.length}::text]`
        : `EXISTS (SELECT 1 FROM unnest(codes) c WHERE substr(c, strpos(c, '|') + 1) = $${params.length})`,
    );
  }
  if (selection.from) {
    params.push(selection.from.toISOString());
    where.push(`effective_at >= $${params.length}::timestamptz`);
  }
  if (selection.before) {
    params.push(selection.before.toISOString());
    where.push(`effective_at < $${params.length}::timestamptz`);
  }
  return { where, params };
}
