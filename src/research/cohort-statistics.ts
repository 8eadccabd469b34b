import { BadUserInputError } from '../errors.js';
import { ageInYears } from '../ml/chart-features.js';
import type { KeyedLaplaceNoise } from './laplace-noise.js';

export type CohortDimension = 'AGE_BAND' | 'SEX' | 'MONTH';
export type CohortSex = 'female' | 'male' | 'other' | 'unknown';

/** A cohort query as the analyst asked it, validated. */
export interface CohortQuery {
  /** `system|code` of the conditions to count (none: count the patients themselves). */
  conditions: string[];
  groupBy: ReadonlySet<CohortDimension>;
  ageBandYears: number;
  /** First and last month (UTC, `YYYY-MM`) of the MONTH dimension. */
  months: string[];
  /** Ages, and conditions counted, as of this time. */
  asOf: Date;
}

export interface CohortQueryInput {
  conditions?: readonly string[] | null;
  groupBy?: readonly CohortDimension[] | null;
  ageBandYears?: number | null;
  from?: Date | null;
  to?: Date | null;
  asOf?: Date | null;
}

/** One consenting patient as the statistics see them: no address, no record. */
export interface CohortMember {
  birthDate: string | null;
  sex: CohortSex;
  /** Condition code → its first onset in the chart. */
  onsets: ReadonlyMap<string, Date>;
}

export interface CohortCell {
  condition: string | null;
  ageBand: string | null;
  sex: CohortSex | null;
  month: string | null;
  /** Consenting patients in the cell's age band and sex (the rate's denominator); null when suppressed. */
  patients: number | null;
  /** Of them, those with the condition (onset in the month, with MONTH); null when suppressed. */
  count: number | null;
  rate: number | null;
  suppressed: boolean;
}

export interface CohortStatisticsResult {
  organization: string;
  asOf: Date;
  minCellSize: number;
  epsilon: number | null;
  /** Consenting patients counted; null below the cell size. */
  cohortSize: number | null;
  suppressedCells: number;
  cells: CohortCell[];
}

export const MAX_CONDITIONS = 20;
export const MAX_CELLS = 5000;
export const MAX_MONTHS = 120;
const TOP_AGE = 90;
const CODE = /^[^|\s]{1,200}\|[^|\s]{1,100}$/;
const SEXES: readonly CohortSex[] = ['female', 'male', 'other', 'unknown'];

/** Checks a query's arguments; BAD_USER_INPUT naming the field. Nothing in it comes from a chart. */
export function validateCohortQuery(input: CohortQueryInput, now: Date): CohortQuery {
  const conditions = [...new Set(input.conditions ?? [])];
  if (conditions.length > MAX_CONDITIONS) {
    throw new BadUserInputError(`at most ${MAX_CONDITIONS} condition codes per query`, {
      field: 'conditions',
    });
  }
  for (const code of conditions) {
    if (typeof code !== 'string' || !CODE.test(code)) {
      throw new BadUserInputError(
        'each condition must be system|code, e.g. http://snomed.info/sct|44054006',
        {
          field: 'conditions',
        },
      );
    }
  }
  const groupBy = new Set(input.groupBy ?? []);
  const ageBandYears = input.ageBandYears ?? 10;
  if (
    !Number.isInteger(ageBandYears) ||
    ageBandYears < 1 ||
    ageBandYears > TOP_AGE ||
    TOP_AGE % ageBandYears
  ) {
    throw new BadUserInputError(`ageBandYears must divide ${TOP_AGE} (5, 10, 15, 30 ...)`, {
      field: 'ageBandYears',
    });
  }
  const asOf = input.asOf ?? now;
  if (!Number.isFinite(asOf.getTime())) throw new BadUserInputError('asOf is not a time', { field: 'asOf' });
  let months: string[] = [];
  if (groupBy.has('MONTH')) {
    if (conditions.length === 0) {
      throw new BadUserInputError('grouping by MONTH counts condition onsets: name at least one condition', {
        field: 'groupBy',
      });
    }
    if (!input.from || !input.to || !(input.from.getTime() <= input.to.getTime())) {
      throw new BadUserInputError('grouping by MONTH needs from <= to', { field: 'from' });
    }
    months = monthsBetween(input.from, input.to);
    if (months.length > MAX_MONTHS) {
      throw new BadUserInputError(`at most ${MAX_MONTHS} months per query`, { field: 'to' });
    }
  }
  const cells =
    Math.max(conditions.length, 1) *
    (groupBy.has('AGE_BAND') ? ageBands(ageBandYears).length : 1) *
    (groupBy.has('SEX') ? SEXES.length : 1) *
    Math.max(months.length, 1);
  if (cells > MAX_CELLS) {
    throw new BadUserInputError(`the query asks for ${cells} cells; at most ${MAX_CELLS}`, {
      field: 'groupBy',
      reason: 'TOO_MANY_CELLS',
    });
  }
  return { conditions, groupBy, ageBandYears, months, asOf };
}

/**
 * Counts and rates per cell over the members, cells under `minCellSize` patients suppressed (decided
 * on the true counts, so every released figure stands for at least that many people), then noise on
 * what is released when `noise` is given. The grid of cells comes from the query alone.
 */
export function cohortStatistics(
  members: readonly CohortMember[],
  query: CohortQuery,
  options: { organization: string; minCellSize: number; noise?: KeyedLaplaceNoise | null },
): CohortStatisticsResult {
  const { organization, minCellSize: k } = options;
  const noise = options.noise ?? null;
  const bands = query.groupBy.has('AGE_BAND') ? ageBands(query.ageBandYears) : [null];
  const sexes = query.groupBy.has('SEX') ? SEXES : [null];
  const conditions = query.conditions.length > 0 ? query.conditions : [null];
  const months = query.groupBy.has('MONTH') ? query.months : [null];
  const placed = members.map((member) => ({
    member,
    band: bandOf(member.birthDate, query.asOf, query.ageBandYears),
    month: new Map([...member.onsets].map(([code, onset]) => [code, monthOf(onset)])),
  }));
  const release = (value: number, label: unknown) =>
    noise ? noise.noisyCount(value, [organization, label]) : value;
  const cells: CohortCell[] = [];
  for (const condition of conditions) {
    for (const ageBand of bands) {
      for (const sex of sexes) {
        const stratum = placed.filter(
          (p) => (ageBand === null || p.band === ageBand) && (sex === null || p.member.sex === sex),
        );
        for (const month of months) {
          const count =
            condition === null
              ? stratum.length
              : stratum.filter((p) => {
                  const onset = p.member.onsets.get(condition);
                  return (
                    onset !== undefined &&
                    onset <= query.asOf &&
                    (month === null || p.month.get(condition) === month)
                  );
                }).length;
          const base = { condition, ageBand, sex, month };
          if (count < k || stratum.length < k) {
            cells.push({ ...base, patients: null, count: null, rate: null, suppressed: true });
            continue;
          }
          const strataLabel = ['patients', query.ageBandYears, ageBand, sex];
          const patients = release(stratum.length, strataLabel);
          const released =
            condition === null
              ? patients
              : release(count, ['count', query.ageBandYears, ageBand, sex, condition, month]);
          const denominator = condition === null ? release(members.length, ['cohort']) : patients;
          cells.push({
            ...base,
            patients,
            count: released,
            rate: denominator > 0 ? Math.min(1, released / denominator) : 0,
            suppressed: false,
          });
        }
      }
    }
  }
  return {
    organization,
    asOf: query.asOf,
    minCellSize: k,
    epsilon: noise?.epsilon ?? null,
    cohortSize: members.length < k ? null : release(members.length, ['cohort']),
    suppressedCells: cells.filter((c) => c.suppressed).length,
    cells,
  };
}

/** Band labels `0-9` ... `80-89`, `90+`, `unknown` (no birth date). */
export function ageBands(width: number): string[] {
  const bands: string[] = [];
  for (let start = 0; start < TOP_AGE; start += width) bands.push(`${start}-${start + width - 1}`);
  return [...bands, `${TOP_AGE}+`, 'unknown'];
}

function bandOf(birthDate: string | null, asOf: Date, width: number): string {
  const age = birthDate ? ageInYears(birthDate, asOf) : null;
  if (age === null) return 'unknown';
  if (age >= TOP_AGE) return `${TOP_AGE}+`;
  const start = Math.floor(age / width) * width;
  return `${start}-${start + width - 1}`;
}

/** `YYYY-MM` of a time, in UTC. */
export function monthOf(time: Date): string {
  return time.toISOString().slice(0, 7);
}

function monthsBetween(from: Date, to: Date): string[] {
  const months: string[] = [];
  let year = from.getUTCFullYear();
  let month = from.getUTCMonth();
  const last = to.getUTCFullYear() * 12 + to.getUTCMonth();
  while (year * 12 + month <= last && months.length <= MAX_MONTHS) {
    months.push(`${year}-${String(month + 1).padStart(2, '0')}`);
    month += 1;
    if (month === 12) {
      month = 0;
      year += 1;
    }
  }
  return months;
}

/** FHIR AdministrativeGender as the statistics group it (absent or anything else: unknown). */
export function sexOf(gender: unknown): CohortSex {
  return gender === 'female' || gender === 'male' || gender === 'other' ? gender : 'unknown';
}
