import { normalizeAddress } from '../ledger/address.js';
import { ForbiddenError, OmnichartError } from '../errors.js';
import type { ResearchMember, ResearchStore } from '../storage/research-store.js';
import type { AttestationService } from './attestation-service.js';
import type { Caller } from './caller.js';

/** Why a research query was refused: `extensions.reason` of the FORBIDDEN answer. */
export type ResearchDenial = 'ATTESTATION_MISSING' | 'NOT_ORGANIZATION_ANALYST';

export class ResearchAccessDeniedError extends OmnichartError {
  constructor(message: string, reason: ResearchDenial) {
    super('FORBIDDEN', message, { reason });
  }
}

/** The cohort a research query may count: the caller's organization and its consenting patients. */
export interface ResearchCohort {
  /** Lower-case address of the analyst's attesting organization. */
  organization: string;
  members: ResearchMember[];
}

export interface ResearchAccessOptions {
  attestations: Pick<AttestationService, 'requireAttested'>;
  research: Pick<ResearchStore, 'researchCohort'>;
  now?: () => Date;
}

/**
 * Who may run research queries, and over whom: an ANALYST with a valid attestation on chain (checked
 * after the operation caught up with the chain), over the patients whose active `research` grant names
 * the analyst's own organization. Nothing here opens a record.
 */
export class ResearchAccess {
  constructor(private readonly options: ResearchAccessOptions) {}

  /**
   * @param requestedOrganization the organization the caller names, if any: it must be their own
   * @throws ResearchAccessDeniedError (FORBIDDEN with a reason)
   */
  async cohortFor(caller: Caller, requestedOrganization?: string | null): Promise<ResearchCohort> {
    const requested =
      requestedOrganization === undefined || requestedOrganization === null
        ? null
        : normalizeAddress(requestedOrganization, 'organization');
    let organization: string | null;
    try {
      organization = (await this.options.attestations.requireAttested(caller, 'ANALYST')).organization;
    } catch (error) {
      if (!(error instanceof ForbiddenError)) throw error;
      throw new ResearchAccessDeniedError(
        `research queries need an attested ANALYST: ${error.message}`,
        'ATTESTATION_MISSING',
      );
    }
    if (!organization) {
      throw new ResearchAccessDeniedError('the attestation names no organization', 'ATTESTATION_MISSING');
    }
    if (requested && requested !== organization) {
      throw new ResearchAccessDeniedError(
        'an analyst may query only the cohort of the organization that attested them',
        'NOT_ORGANIZATION_ANALYST',
      );
    }
    const now = this.options.now?.() ?? new Date();
    return { organization, members: await this.options.research.researchCohort(organization, now) };
  }
}
