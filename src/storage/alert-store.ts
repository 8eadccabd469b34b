import type { DataSource } from 'typeorm';
import { AccessAlertEntity, type AccessAlertKind } from './entities/index.js';

/** An alert as stored; the break-glass fields only on break-glass alerts. */
export interface AlertRow {
  patient: string;
  kind: AccessAlertKind;
  actor: string;
  action: string;
  resourceType: string | null;
  reasonCode: string;
  reason: string | null;
  breakGlassId: string | null;
  organization: string | null;
  txHash: string | null;
  at: Date;
}

/** The access_alert table: every alert a patient was (or will be) shown. */
export class AlertStore {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Stores an alert and answers its id; null when the break-glass alert is already stored (from the
   * chain event or the local write), which then gains the reason if it had none.
   */
  async add(alert: AlertRow): Promise<string | null> {
    const [row] = (await this.dataSource.query(
      `INSERT INTO access_alert (patient, kind, actor, action, resource_type, reason_code, reason, break_glass_id, organization, tx_hash, at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
       ON CONFLICT (break_glass_id, kind) DO UPDATE SET reason = COALESCE(access_alert.reason, EXCLUDED.reason)
       RETURNING id, (xmax = 0) AS inserted`,
      [
        alert.patient,
        alert.kind,
        alert.actor,
        alert.action,
        alert.resourceType,
        alert.reasonCode,
        alert.reason,
        alert.breakGlassId,
        alert.organization,
        alert.txHash,
        alert.at,
      ],
    )) as { id: string; inserted: boolean }[];
    return row?.inserted === true ? String(row.id) : null;
  }

  /** One stored alert (another replica stored it), or null. */
  async byId(id: string): Promise<AccessAlertEntity | null> {
    return this.dataSource.getRepository(AccessAlertEntity).findOneBy({ id });
  }

  /**
   * Up to `limit` of the patient's alerts, newest first, strictly before `before` when given. Chain
   * times have second precision, so an opening and its end can share one `at`; the end then sorts as
   * the newer, whichever order this node stored them in (a quarantined opening can come after its end).
   */
  async newestFirst(
    patient: string,
    limit: number,
    before?: AlertPosition | null,
  ): Promise<AccessAlertEntity[]> {
    return this.dataSource
      .getRepository(AccessAlertEntity)
      .createQueryBuilder('a')
      .where('a.patient = :patient', { patient })
      .andWhere(before ? `(a.at, ${KIND_RANK}, a.id) < (:at, :rank, :id)` : 'TRUE', before ?? {})
      .orderBy('a.at', 'DESC')
      .addOrderBy(KIND_RANK, 'DESC')
      .addOrderBy('a.id', 'DESC')
      .limit(limit)
      .getMany();
  }
}

/** Where a page of alerts ends: the last alert's time, kind rank and id. */
export interface AlertPosition {
  at: string;
  rank: 0 | 1;
  id: string;
}

/** The kind listed as newer than others of the same `at`; the SQL and the cursor share this rule. */
const NEWER_IN_SAME_SECOND: AccessAlertKind = 'BREAK_GLASS_ENDED';
const KIND_RANK = `(CASE a.kind WHEN '${NEWER_IN_SAME_SECOND}' THEN 1 ELSE 0 END)`;

export function alertKindRank(kind: string): 0 | 1 {
  return kind === NEWER_IN_SAME_SECOND ? 1 : 0;
}
