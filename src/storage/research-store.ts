import type { DataSource } from 'typeorm';
import type { RecordEntity } from './entities/index.js';
import { recordFromRow } from './record-rows.js';

/** A patient in an organization's research cohort, with the grant that puts them there. */
export interface ResearchMember {
  patient: string;
  grantId: string;
}

/** The first onset of one condition code in one chart (clinical time of the earliest Condition). */
export interface ConditionOnset {
  patient: string;
  code: string;
  firstOnset: Date;
}

/**
 * What research queries read: the consenting patients of an organization (from the grants cache) and
 * the metadata of their charts. Only aggregates are built from it (src/research).
 */
export class ResearchStore {
  constructor(private readonly dataSource: DataSource) {}

  /** Patients with an active consent grant carrying the `research` scope to `organization`. */
  async researchCohort(organization: string, now: Date): Promise<ResearchMember[]> {
    const rows: { patient: string; grant_id: string }[] = await this.dataSource.query(
      `SELECT patient, min(id::numeric)::text AS grant_id FROM access_grant
        WHERE kind = 'CONSENT' AND grantee = $1 AND revoked_at IS NULL AND expires_at > $2
          AND 'research' = ANY(string_to_array(scopes, ' '))
        GROUP BY patient ORDER BY patient`,
      [organization, now],
    );
    return rows.map((row) => ({ patient: row.patient, grantId: row.grant_id }));
  }

  /** For each patient and each of `codes` their charts carry, the earliest Condition at or before `until`. */
  async conditionOnsets(
    patients: readonly string[],
    codes: readonly string[],
    until: Date,
  ): Promise<ConditionOnset[]> {
    if (patients.length === 0 || codes.length === 0) return [];
    const rows: { patient: string; code: string; first_onset: Date }[] = await this.dataSource.query(
      `SELECT r.patient, c.code, min(r.effective_at) AS first_onset
         FROM record r CROSS JOIN LATERAL unnest(r.codes) AS c(code)
        WHERE r.patient = ANY($1::varchar[]) AND r.resource_type = 'Condition'
          AND r.codes && $2::text[] AND c.code = ANY($2::text[]) AND r.effective_at <= $3
        GROUP BY r.patient, c.code`,
      [patients, codes, until],
    );
    return rows.map((row) => ({
      patient: row.patient,
      code: row.code,
      firstOnset: new Date(row.first_onset),
    }));
  }

  /** The newest Patient record of each chart (its birth date and sex are inside the envelope). */
  async patientRecords(patients: readonly string[]): Promise<RecordEntity[]> {
    if (patients.length === 0) return [];
    const rows: Record<string, unknown>[] = await this.dataSource.query(
      `SELECT DISTINCT ON (patient) * FROM record
        WHERE patient = ANY($1::varchar[]) AND resource_type = 'Patient'
        ORDER BY patient, effective_at DESC, id DESC`,
      [patients],
    );
    return rows.map(recordFromRow);
  }
}
