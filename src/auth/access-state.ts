import type { GrantStore } from '../storage/grant-store.js';
import type { GrantEntity } from '../storage/entities/index.js';
import type { AccessState } from './access-decision.js';
import type { AccessRequest } from './policy.js';
import { parseScopes, type ParsedScopes } from './scopes.js';

/** Where a policy gets the state it decides from. */
export interface AccessStateSource {
  stateFor(request: AccessRequest): Promise<AccessState>;
}

export interface CachedAccessStateOptions {
  grants: Pick<GrantStore, 'liveGrants'>;
  /**
   * The operation's sync step: brings the cache up to the chain head (revocations relayed by other
   * nodes, attestations) once per operation, and fails closed when the chain cannot be read.
   */
  caughtUp?: () => Promise<void>;
  /**
   * Whether an open break-glass still counts: the practitioner's attestation is valid and the patient
   * does not refuse break-glass (cache state, already caught up).
   */
  breakGlassHolds?: (grant: GrantEntity) => Promise<boolean>;
  now?: () => Date;
}

/**
 * The caller's grants on a chart as the cache holds them once the operation has caught up with the
 * chain. Reading is all it does; `decideAccess` decides from what it answers.
 */
export class CachedAccessState implements AccessStateSource {
  private readonly parsed = new Map<string, ParsedScopes>();

  constructor(private readonly options: CachedAccessStateOptions) {}

  async stateFor(request: AccessRequest): Promise<AccessState> {
    await this.options.caughtUp?.();
    const now = this.options.now?.() ?? new Date();
    const rows = await this.options.grants.liveGrants(request.patient, request.caller.address, now);
    const breakGlassHolding = new Set<string>();
    for (const row of rows) {
      if (row.kind === 'BREAK_GLASS' && (await this.options.breakGlassHolds?.(row))) {
        breakGlassHolding.add(row.id);
      }
    }
    const grants = rows.map((row) => ({
      id: row.id,
      kind: row.kind,
      scopes: this.scopesOf(row.scopes),
      expiresAt: row.expiresAt,
      revokedAt: row.revokedAt,
      reason: row.reason,
    }));
    return { grants, breakGlassHolding, now };
  }

  private scopesOf(text: string): ParsedScopes {
    let parsed = this.parsed.get(text);
    if (!parsed) {
      parsed = parseScopes(text.split(' '));
      this.parsed.set(text, parsed);
    }
    return parsed;
  }
}
