import type { Patient } from '@medplum/fhirtypes';
import type { AuditLog } from '../audit/audit-log.js';
import type { Caller } from '../auth/caller.js';
import type { ResearchAccess } from '../auth/research-access.js';
import type { DecryptionBudget } from '../records/decryption-budget.js';
import type { RecordService } from '../records/record-service.js';
import type { ResearchStore } from '../storage/research-store.js';
import {
  cohortStatistics,
  sexOf,
  validateCohortQuery,
  type CohortMember,
  type CohortQueryInput,
  type CohortStatisticsResult,
} from './cohort-statistics.js';
import type { KeyedLaplaceNoise } from './laplace-noise.js';
import { auditResearchUse } from './research-audit.js';

export interface CohortServiceOptions {
  access: ResearchAccess;
  research: Pick<ResearchStore, 'conditionOnsets' | 'patientRecords'>;
  records: Pick<RecordService, 'readResources'>;
  audit: AuditLog;
  /** k: every released figure counts at least this many patients. */
  minCellSize: number;
  /** Laplace noise on released counts; null: exact counts. */
  noise: KeyedLaplaceNoise | null;
  now?: () => Date;
}

/**
 * Cohort insights from patients who consent to research: who may ask (ResearchAccess), the members'
 * demographics and condition onsets (one Patient record decrypted per member, conditions from the
 * record metadata), aggregates only, and one audit entry per counted patient before the answer.
 */
export class CohortService {
  constructor(private readonly options: CohortServiceOptions) {}

  async cohortStatistics(
    caller: Caller,
    input: CohortQueryInput & { organization?: string | null },
    budget?: DecryptionBudget,
  ): Promise<CohortStatisticsResult> {
    const now = this.options.now?.() ?? new Date();
    const { access, research, records } = this.options;
    const cohort = await access.cohortFor(caller, input.organization);
    const query = validateCohortQuery(input, now);
    const patients = cohort.members.map((m) => m.patient);
    const [onsets, patientRecords] = await Promise.all([
      research.conditionOnsets(patients, query.conditions, query.asOf),
      research.patientRecords(patients),
    ]);
    const resources = (await records.readResources(patientRecords, budget)) as Patient[];
    const demographics = new Map(patientRecords.map((record, i) => [record.patient, resources[i]]));
    const onsetsOf = new Map<string, Map<string, Date>>();
    for (const onset of onsets) {
      const byCode = onsetsOf.get(onset.patient) ?? new Map<string, Date>();
      byCode.set(onset.code, onset.firstOnset);
      onsetsOf.set(onset.patient, byCode);
    }
    const members: CohortMember[] = patients.map((patient) => {
      const resource = demographics.get(patient);
      return {
        birthDate: typeof resource?.birthDate === 'string' ? resource.birthDate : null,
        sex: sexOf(resource?.gender),
        onsets: onsetsOf.get(patient) ?? new Map(),
      };
    });
    const result = cohortStatistics(members, query, {
      organization: cohort.organization,
      minCellSize: this.options.minCellSize,
      noise: this.options.noise,
    });
    // Every counted chart was used, whatever was suppressed: its patient sees the query in their log.
    await auditResearchUse(this.options.audit, caller, cohort, {
      purpose: 'cohortStatistics',
      what: 'aggregate counts',
    });
    return result;
  }
}
