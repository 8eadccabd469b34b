import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

export type AccessAlertKind = 'BREAK_GLASS' | 'BREAK_GLASS_ENDED' | 'DENIED';

/**
 * What the patient is alerted to, kept so `alerts` can list it later: break-glass opened and ended
 * (from chain events, so every node lists them) and access this node denied.
 */
@Entity('access_alert')
@Index('IDX_access_alert_patient_at', ['patient', 'at'])
@Index('IDX_access_alert_break_glass', ['breakGlassId', 'kind'], { unique: true })
export class AccessAlertEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ type: 'varchar', length: 42 })
  patient!: string;

  @Column({ type: 'varchar', length: 24 })
  kind!: AccessAlertKind;

  @Column({ type: 'varchar', length: 42 })
  actor!: string;

  @Column({ type: 'varchar', length: 16 })
  action!: string;

  @Column({ name: 'resource_type', type: 'varchar', length: 64, nullable: true })
  resourceType!: string | null;

  /** Stable code of why (audit/alert-text.ts): NO_GRANT, PATIENT_ONLY, PRACTITIONER_STATEMENT, ... */
  @Column({ name: 'reason_code', type: 'varchar', length: 32 })
  reasonCode!: string;

  @Column({ type: 'text', nullable: true })
  reason!: string | null;

  /** Break-glass alerts: the chain's break-glass id (decimal). */
  @Column({ name: 'break_glass_id', type: 'varchar', length: 80, nullable: true })
  breakGlassId!: string | null;

  /** Break-glass alerts: the organization that attested the practitioner. */
  @Column({ type: 'varchar', length: 42, nullable: true })
  organization!: string | null;

  @Column({ name: 'tx_hash', type: 'varchar', length: 66, nullable: true })
  txHash!: string | null;

  @Column({ type: 'timestamptz' })
  at!: Date;
}
