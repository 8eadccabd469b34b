import type { AuditLog } from '../audit/audit-log.js';
import type { Caller } from '../auth/caller.js';
import type { ResearchCohort } from '../auth/research-access.js';

/**
 * One `research` entry in the log of every patient whose chart a research use read, so each patient
 * sees the use in their own access history whatever the answer showed or suppressed.
 */
export async function auditResearchUse(
  audit: AuditLog,
  caller: Caller,
  cohort: ResearchCohort,
  use: { purpose: 'cohortStatistics' | 'trainModel'; what: string },
): Promise<void> {
  await Promise.all(
    cohort.members.map((member) =>
      audit.append({
        patient: member.patient,
        actor: caller.address,
        action: 'research',
        outcome: 'ALLOWED',
        purpose: use.purpose,
        reason: `${use.what} for organization ${cohort.organization} (research grant ${member.grantId})`,
      }),
    ),
  );
}
