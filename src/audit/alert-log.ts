import { BadUserInputError } from '../errors.js';
import { alertKindRank, type AlertPosition, type AlertStore } from '../storage/alert-store.js';
import type { AccessAlertEntity, AccessAlertKind } from '../storage/entities/index.js';
import { knownResourceType } from './alert-text.js';
import type { AccessAlert, AccessAlertBus } from './access-alerts.js';

export interface AlertPage {
  alerts: AccessAlertEntity[];
  /** Cursor of the last alert on the page, for `after`. */
  endCursor: string | null;
  hasNextPage: boolean;
}

const MAX_PAGE = 200;

/**
 * The patient's alerts, kept: every alert is stored before it goes to live subscriptions, so
 * `alerts(patient)` lists what the patient missed. Break-glass alerts come from chain events (every
 * node stores them once, deduplicated by break-glass id); denials from this node's policy.
 */
export class AlertLog {
  private readonly forwarders: ((id: string) => void)[] = [];

  constructor(
    private readonly store: AlertStore,
    private readonly bus: AccessAlertBus,
  ) {}

  /** Also hands the id of every newly stored alert to `forward` (the replica fan-out). */
  forwardTo(forward: (id: string) => void): void {
    this.forwarders.push(forward);
  }

  /** Publishes to this process's subscribers an alert another replica stored. */
  async deliverStored(id: string): Promise<void> {
    const row = await this.store.byId(id);
    if (!row) return;
    this.bus.publish({
      patient: row.patient,
      actor: row.actor,
      kind: row.kind,
      action: row.action,
      resourceType: row.resourceType,
      reasonCode: row.reasonCode as AccessAlert['reasonCode'],
      reason: row.reason,
      at: row.at,
      ...{ breakGlassId: row.breakGlassId, organization: row.organization, txHash: row.txHash },
    });
  }

  /**
   * Stores the alert, then publishes it live. A break-glass alert already stored (from the chain event
   * or the local write, whichever came first) is not published again, but gains the reason only the
   * node that opened it knows (the chain keeps its hash).
   */
  async record(
    alert: AccessAlert & { breakGlassId?: string; organization?: string | null; txHash?: string | null },
  ): Promise<void> {
    const id = await this.store.add({
      patient: alert.patient,
      kind: alert.kind,
      actor: alert.actor,
      action: alert.action.slice(0, 16),
      resourceType: knownResourceType(alert.resourceType),
      reasonCode: alert.reasonCode,
      reason: alert.reason,
      breakGlassId: alert.breakGlassId ?? null,
      organization: alert.organization ?? null,
      txHash: alert.txHash ?? null,
      at: alert.at,
    });
    if (id === null) return;
    this.bus.publish({ ...alert, resourceType: knownResourceType(alert.resourceType) });
    for (const forward of this.forwarders) forward(id);
  }

  /** Live alerts for one patient until the signal aborts. */
  subscribe(patient: string, signal?: AbortSignal): AsyncIterableIterator<AccessAlert> {
    return this.bus.subscribe(patient, signal);
  }

  /** Live subscriptions for a patient (tests wait on it). */
  listenerCount(patient: string): number {
    return this.bus.listenerCount(patient);
  }

  /** Newest first; `after` is the `endCursor` of the previous page. */
  async list(patient: string, first = 50, after?: string | null): Promise<AlertPage> {
    if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE) {
      throw new BadUserInputError(`first must be 1–${MAX_PAGE}`, { field: 'first' });
    }
    const cursor = after ? decodeCursor(after) : null;
    const rows = await this.store.newestFirst(patient, first + 1, cursor);
    const page = rows.slice(0, first);
    const last = page.at(-1);
    return {
      alerts: page,
      endCursor: last ? alertCursor(last) : null,
      hasNextPage: rows.length > first,
    };
  }
}

export function isAccessAlertKind(kind: string): kind is AccessAlertKind {
  return kind === 'BREAK_GLASS' || kind === 'BREAK_GLASS_ENDED' || kind === 'DENIED';
}

/** The `after` cursor that continues after this alert. */
export function alertCursor(alert: AccessAlertEntity): string {
  return Buffer.from(JSON.stringify([alert.at.toISOString(), alertKindRank(alert.kind), alert.id])).toString(
    'base64url',
  );
}

function decodeCursor(cursor: string): AlertPosition {
  try {
    const [at, rank, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (
      typeof at === 'string' &&
      !Number.isNaN(Date.parse(at)) &&
      (rank === 0 || rank === 1) &&
      typeof id === 'string' &&
      /^\d{1,19}$/.test(id)
    ) {
      return { at, rank, id };
    }
  } catch {
    // fall through
  }
  throw new BadUserInputError('after is not a cursor from alerts', { field: 'after' });
}
