import type { Caller } from '../auth/caller.js';
import { normalizeAddress } from '../ledger/address.js';
import { decideAll, type Policy } from '../auth/policy.js';
import { BadUserInputError } from '../errors.js';
import type { ChartStore, TimelinePosition, TimelineSelection } from '../storage/chart-store.js';
import type { RecordEntity } from '../storage/entities/index.js';
import type { DecryptionBudget } from './decryption-budget.js';
import { parseFhirDateTime } from './record-metadata.js';
import type { RecordService } from './record-service.js';
import { LOINC, VITAL_SIGNS, vitalSignOf, type VitalSignValue } from './vital-signs.js';

export interface ChartServiceOptions {
  store: ChartStore;
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
    const { store } = this.options;
    const vitalCodes = VITAL_SIGNS.flatMap((v) => v.codes.map((code) => `${LOINC}|${code}`));
    const [counts, latestVitals, lists] = await Promise.all([
      store.counts(patient),
      store.latestObservations(patient, vitalCodes),
      store.summaryLists(patient, SUMMARY_LIST_LIMIT),
    ]);

    // The latest record of each vital sign kind, then decrypt just those, in parallel.
    const chosen: { definition: (typeof VITAL_SIGNS)[number]; code: string; record: RecordEntity }[] = [];
    for (const definition of VITAL_SIGNS) {
      const candidates = latestVitals
        .filter((row) => definition.codes.some((code) => row.code === `${LOINC}|${code}`))
        .map((row) => ({ code: row.code.split('|')[1], record: row.record }))
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

    const listed = (name: string) => lists.filter((row) => row.list === name).map((row) => row.record);
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
    const after = filter.after ? decodeCursor(filter.after) : null;
    const rows = await this.options.store.timelinePage(selectionOf(patient, filter), after, filter.first + 1);
    const edges = rows.slice(0, filter.first).map(({ record, position }) => ({
      cursor: encodeCursor(position),
      record,
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
    return this.options.store.timelineCount(selectionOf(patient, filter));
  }

  /** Which account wrote how many records of which type into the chart. */
  async sources(caller: Caller, patientInput: string): Promise<ChartSourceData[]> {
    const patient = normalizeAddress(patientInput, 'patient');
    await this.options.policy.authorize({ caller, patient, action: 'search' });
    const rows = await this.options.store.sources(patient);
    const sources = new Map<string, ChartSourceData>();
    for (const row of rows) {
      let source = sources.get(row.author);
      if (!source) {
        source = { account: row.author, displayName: row.displayName, role: row.role, total: 0, counts: [] };
        sources.set(row.author, source);
      }
      source.total += row.count;
      source.counts.push({ resourceType: row.resourceType, count: row.count });
    }
    return [...sources.values()].sort((a, b) => b.total - a.total);
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

/** The filter as the store selects by it, its date bounds parsed (a clear error when they are not dates). */
function selectionOf(patient: string, filter: TimelineFilter): TimelineSelection {
  return {
    patient,
    types: filter.types,
    code: filter.code,
    from: filter.from ? parseBound(filter.from, 'from').start : null,
    before: filter.to ? parseBound(filter.to, 'to').end : null,
  };
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
function encodeCursor({ at, id }: TimelinePosition): string {
  return Buffer.from(JSON.stringify([at, id])).toString('base64url');
}

function decodeCursor(cursor: string): TimelinePosition {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === 'string' &&
      /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2})?$/.test(value[0]) &&
      /^[0-9a-f-]{36}$/.test(value[1])
    ) {
      return { at: value[0], id: value[1] };
    }
  } catch {
    // fall through
  }
  throw new BadUserInputError('after is not a cursor this timeline returned', { field: 'after' });
}
