import type { DataSource } from 'typeorm';
import type { Caller } from '../auth/caller.js';
import { normalizeAddress } from '../ledger/address.js';
import { decideAll, type Policy } from '../auth/policy.js';
import { BadUserInputError } from '../errors.js';
import type { RecordEntity } from '../storage/entities/index.js';
import type { DecryptionBudget } from './decryption-budget.js';
import { parseFhirDateTime } from './record-metadata.js';
import { recordFromRow, type RecordService } from './record-service.js';
import { LOINC, VITAL_SIGNS, vitalSignOf, type VitalSignValue } from './vital-signs.js';

export interface ChartServiceOptions {
  dataSource: DataSource;
  policy: Policy;
  records: RecordService;
}

export interface TypeCount {
  resourceType: string;
  count: number;
}

export interface ChartSummaryData {
  total: number;
  counts: TypeCount[];
  vitalSigns: VitalSignValue[];
  activeConditions: RecordEntity[];
  allergies: RecordEntity[];
  activeMedications: RecordEntity[];
  immunizations: RecordEntity[];
}

export interface TimelineFilter {
  types?: string[] | null;
  /** FHIR date or dateTime; inclusive. */
  from?: string | null;
  /** FHIR date or dateTime; inclusive of the whole day/month/year a partial date names. */
  to?: string | null;
  /** `system|code`, or a bare `code` in any system. */
  code?: string | null;
}

export interface TimelinePage {
  edges: { cursor: string; record: RecordEntity }[];
  hasNextPage: boolean;
  endCursor: string | null;
}

export interface ChartSourceData {
  account: string;
  displayName: string | null;
  role: string | null;
  total: number;
  counts: TypeCount[];
}

export const MAX_TIMELINE_PAGE = 500;
const SUMMARY_LIST_LIMIT = 500;

/**
 * The unified view of one patient's chart, answered from the metadata columns in Postgres; content is
 * decrypted only where a value is shown (the latest vital signs), a handful of records at a time.
 */
export class ChartService {
  constructor(private readonly options: ChartServiceOptions) {}

  async summary(caller: Caller, patientInput: string, budget?: DecryptionBudget): Promise<ChartSummaryData> {
    const patient = normalizeAddress(patientInput, 'patient');
    await this.options.policy.authorize({ caller, patient, action: 'read' });
    const { dataSource } = this.options;
    const vitalCodes = VITAL_SIGNS.flatMap((v) => v.codes.map((code) => `${LOINC}|${code}`));
    const [counts, latestVitals, lists] = await Promise.all([
      this.counts(patient),
      dataSource.query(
        `SELECT DISTINCT ON (c.code) c.code AS vital_code, r.*
           FROM record r CROSS JOIN LATERAL unnest(r.codes) AS c(code)
          WHERE r.patient = $1 AND r.resource_type = 'Observation' AND c.code = ANY($2::text[])
            AND coalesce(r.status, '') NOT IN ('entered-in-error', 'cancelled')
          ORDER BY c.code, r.effective_at DESC, r.id DESC`,
        [patient, vitalCodes],
      ) as Promise<Record<string, unknown>[]>,
      dataSource.query(
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
        [patient, SUMMARY_LIST_LIMIT],
      ) as Promise<Record<string, unknown>[]>,
    ]);

    // The latest record of each vital sign kind, then decrypt just those, in parallel.
    const chosen: { definition: (typeof VITAL_SIGNS)[number]; code: string; record: RecordEntity }[] = [];
    for (const definition of VITAL_SIGNS) {
      const candidates = latestVitals
        .filter((row) => definition.codes.some((code) => row.vital_code === `${LOINC}|${code}`))
        .map((row) => ({ code: String(row.vital_code).split('|')[1], record: recordFromRow(row) }))
        .sort((a, b) => b.record.effectiveAt.getTime() - a.record.effectiveAt.getTime());
      if (candidates[0]) chosen.push({ definition, ...candidates[0] });
    }
    const resources = await this.options.records.readResources(
      chosen.map((c) => c.record),
      budget,
    );
    const vitalSigns = chosen.map(({ definition, code, record }, i) =>
      vitalSignOf(definition, code, resources[i], record.id, record.effectiveAt),
    );

    const listed = (name: string) => lists.filter((row) => row.list === name).map(recordFromRow);
    return {
      total: counts.reduce((sum, c) => sum + c.count, 0),
      counts,
      vitalSigns,
      activeConditions: listed('conditions'),
      allergies: listed('allergies'),
      activeMedications: listed('medications'),
      immunizations: listed('immunizations'),
    };
  }

  /** Records of the chart newest first (clinical time, then id), a page after an opaque cursor. */
  async timeline(
    caller: Caller,
    patientInput: string,
    filter: TimelineFilter & { first: number; after?: string | null },
  ): Promise<TimelinePage> {
    const patient = normalizeAddress(patientInput, 'patient');
    await this.authorizeSearch(caller, patient, filter.types);
    if (!Number.isInteger(filter.first) || filter.first < 1 || filter.first > MAX_TIMELINE_PAGE) {
      throw new BadUserInputError(`first must be between 1 and ${MAX_TIMELINE_PAGE}`, { field: 'first' });
    }
    const { where, params } = timelineWhere(patient, filter);
    if (filter.after) {
      const [at, id] = decodeCursor(filter.after);
      params.push(at, id);
      where.push(`(effective_at, id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
    }
    params.push(filter.first + 1);
    const rows: Record<string, unknown>[] = await this.options.dataSource.query(
      `SELECT *, effective_at::text AS cursor_at FROM record WHERE ${where.join(' AND ')}
        ORDER BY effective_at DESC, id DESC LIMIT $${params.length}`,
      params,
    );
    const edges = rows.slice(0, filter.first).map((row) => ({
      cursor: encodeCursor(String(row.cursor_at), String(row.id)),
      record: recordFromRow(row),
    }));
    return {
      edges,
      hasNextPage: rows.length > filter.first,
      endCursor: edges.at(-1)?.cursor ?? null,
    };
  }

  /** How many records the timeline filter matches (the whole connection, not one page). */
  async timelineCount(caller: Caller, patientInput: string, filter: TimelineFilter): Promise<number> {
    const patient = normalizeAddress(patientInput, 'patient');
    await this.authorizeSearch(caller, patient, filter.types);
    const { where, params } = timelineWhere(patient, filter);
    const [row] = await this.options.dataSource.query(
      `SELECT count(*)::int AS count FROM record WHERE ${where.join(' AND ')}`,
      params,
    );
    return row.count;
  }

  /** Which account wrote how many records of which type into the chart. */
  async sources(caller: Caller, patientInput: string): Promise<ChartSourceData[]> {
    const patient = normalizeAddress(patientInput, 'patient');
    await this.options.policy.authorize({ caller, patient, action: 'search' });
    const rows: {
      author: string;
      display_name: string | null;
      role: string | null;
      resource_type: string;
      count: number;
    }[] = await this.options.dataSource.query(
      `SELECT r.author, a.display_name, a.role, r.resource_type, count(*)::int AS count
           FROM record r LEFT JOIN account a ON a.address = r.author
          WHERE r.patient = $1
          GROUP BY r.author, a.display_name, a.role, r.resource_type
          ORDER BY r.author, r.resource_type`,
      [patient],
    );
    const sources = new Map<string, ChartSourceData>();
    for (const row of rows) {
      let source = sources.get(row.author);
      if (!source) {
        source = { account: row.author, displayName: row.display_name, role: row.role, total: 0, counts: [] };
        sources.set(row.author, source);
      }
      source.total += row.count;
      source.counts.push({ resourceType: row.resource_type, count: row.count });
    }
    return [...sources.values()].sort((a, b) => b.total - a.total);
  }

  private async counts(patient: string): Promise<TypeCount[]> {
    const rows: { resource_type: string; count: number }[] = await this.options.dataSource.query(
      `SELECT resource_type, count(*)::int AS count FROM record WHERE patient = $1
        GROUP BY resource_type ORDER BY resource_type`,
      [patient],
    );
    return rows.map((row) => ({ resourceType: row.resource_type, count: row.count }));
  }

  private async authorizeSearch(caller: Caller, patient: string, types?: string[] | null): Promise<void> {
    if (!types?.length) {
      await this.options.policy.authorize({ caller, patient, action: 'search' });
      return;
    }
    // Every type must be allowed; the search is one operation, so it is audited once.
    const distinct = [...new Set(types)];
    const requests = distinct.map((resourceType) => ({
      caller,
      patient,
      action: 'search' as const,
      resourceType,
    }));
    const [decision] = await decideAll(this.options.policy, requests);
    await this.options.policy.record(
      distinct.length === 1 ? requests[0] : { caller, patient, action: 'search' },
      decision,
    );
  }
}

function timelineWhere(patient: string, filter: TimelineFilter): { where: string[]; params: unknown[] } {
  const where = ['patient = $1'];
  const params: unknown[] = [patient];
  if (filter.types?.length) {
    params.push(filter.types);
    where.push(`resource_type = ANY($${params.length}::varchar[])`);
  }
  if (filter.code) {
    params.push(filter.code);
    where.push(
      filter.code.includes('|')
        ? `codes @> ARRAY[$${params.length}::text]`
        : `EXISTS (SELECT 1 FROM unnest(codes) c WHERE substr(c, strpos(c, '|') + 1) = $${params.length})`,
    );
  }
  if (filter.from) {
    params.push(parseBound(filter.from, 'from').start.toISOString());
    where.push(`effective_at >= $${params.length}::timestamptz`);
  }
  if (filter.to) {
    params.push(parseBound(filter.to, 'to').end.toISOString());
    where.push(`effective_at < $${params.length}::timestamptz`);
  }
  return { where, params };
}

/** A FHIR date/dateTime as [start, end): `2021-05` is all of May 2021, a full dateTime one millisecond. */
function parseBound(text: string, field: string): { start: Date; end: Date } {
  const start = parseFhirDateTime(text);
  if (!start) {
    throw new BadUserInputError(`${field} must be a FHIR date or dateTime (2021, 2021-05, 2021-05-08, ...)`, {
      field,
    });
  }
  const end = new Date(start);
  if (/^\d{4}$/.test(text)) end.setUTCFullYear(end.getUTCFullYear() + 1);
  else if (/^\d{4}-\d{2}$/.test(text)) end.setUTCMonth(end.getUTCMonth() + 1);
  else if (/^\d{4}-\d{2}-\d{2}$/.test(text)) end.setUTCDate(end.getUTCDate() + 1);
  else end.setTime(end.getTime() + 1);
  return { start, end };
}

// Cursors carry Postgres' own text of the timestamp, so microseconds survive the round trip.
function encodeCursor(at: string, id: string): string {
  return Buffer.from(JSON.stringify([at, id])).toString('base64url');
}

function decodeCursor(cursor: string): [string, string] {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === 'string' &&
      /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2})?$/.test(value[0]) &&
      /^[0-9a-f-]{36}$/.test(value[1])
    ) {
      return [value[0], value[1]];
    }
  } catch {
    // fall through
  }
  throw new BadUserInputError('after is not a cursor this timeline returned', { field: 'after' });
}
