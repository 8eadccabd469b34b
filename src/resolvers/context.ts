import type { AccountService } from '../auth/account-service.js';
import type { Caller } from '../auth/caller.js';
import type { LoginService } from '../auth/login-service.js';
import type { Policy } from '../auth/policy.js';
import type { AttestationService } from '../auth/attestation-service.js';
import type { RateLimiting } from '../auth/rate-limits.js';
import type { AlertLog } from '../audit/alert-log.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { BreakGlassService } from '../consent/break-glass-service.js';
import type { GrantService } from '../consent/grant-service.js';
import type { KeyRotation } from '../consent/key-rotation.js';
import type { KeySharing } from '../consent/key-sharing.js';
import type { RateLimitName } from '../config.js';
import type { ModelService } from '../ml/model-service.js';
import type { CohortService } from '../research/cohort-service.js';
import type { CohortTraining } from '../research/cohort-training.js';
import { UnauthenticatedError } from '../errors.js';
import type { ChartService } from '../records/chart-service.js';
import { DecryptionBudget } from '../records/decryption-budget.js';
import type { RecordService } from '../records/record-service.js';

export interface Services {
  accounts: AccountService;
  logins: LoginService;
  records: RecordService;
  chart: ChartService;
  grants: GrantService;
  models: ModelService;
  cohorts: CohortService;
  cohortTraining: CohortTraining;
  keySharing: KeySharing;
  keyRotation: KeyRotation;
  policy: Policy;
  audit: AuditLog;
  alerts: AlertLog;
  attestations: AttestationService;
  breakGlass: BreakGlassService;
  limits: RateLimiting;
}

/** Per-request state handed to every resolver. */
export class RequestContext {
  /** Records this operation may still decrypt (readResources charges it). */
  readonly decryptions: DecryptionBudget;

  /** What one execution keeps (the record loaders and their caches), by owner; see {@link nextEvent}. */
  private readonly perExecution = new Map<object, unknown>();

  constructor(
    readonly services: Services,
    private readonly resolveCaller: () => Promise<Caller | null>,
    limits: { maxDecryptions: number; clientIp?: string },
  ) {
    this.decryptions = new DecryptionBudget(limits.maxDecryptions);
    this.clientIp = limits.clientIp ?? 'unknown';
  }

  /** The client address rate limits count by (see api/client-address.ts). */
  readonly clientIp: string;

  /**
   * Spends a point of a rate limit for this client address and, when given, the caller's account;
   * RATE_LIMITED (with `retryAfter`) when either is spent. Resolvers call it before any work.
   */
  rateLimit(name: RateLimitName, caller?: Caller | null): Promise<void> {
    return this.services.limits.consume(name, { ip: this.clientIp, account: caller?.address });
  }

  /** The value `owner` keeps for this execution, made on first use. */
  perExecutionValue<T>(owner: object, make: () => T): T {
    if (!this.perExecution.has(owner)) this.perExecution.set(owner, make());
    return this.perExecution.get(owner) as T;
  }

  /**
   * A subscription's context lives as long as the subscription and each event it delivers is an
   * execution of its own: the decryption cap starts again, and the loaders with their caches (every
   * record, resource and history an event read) go, instead of accumulating for the stream's life.
   */
  nextEvent(): void {
    this.decryptions.reset();
    this.perExecution.clear();
  }

  private callerPromise?: Promise<Caller | null>;

  /** The authenticated caller or null; a bad token surfaces here as UNAUTHENTICATED. */
  optionalCaller(): Promise<Caller | null> {
    this.callerPromise ??= this.resolveCaller();
    return this.callerPromise;
  }

  async caller(): Promise<Caller> {
    const caller = await this.optionalCaller();
    if (!caller) throw new UnauthenticatedError();
    return caller;
  }
}
