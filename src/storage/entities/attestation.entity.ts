import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** Each subject's current attestation (PRACTITIONER or ANALYST by an organization), from chain events. */
@Entity('attestation')
@Index('IDX_attestation_organization', ['organization'])
export class AttestationEntity {
  /** Lower-case 0x address of the attested account. */
  @PrimaryColumn({ type: 'varchar', length: 42 })
  subject!: string;

  @Column({ type: 'varchar', length: 42 })
  organization!: string;

  @Column({ type: 'varchar', length: 16 })
  role!: string;

  /** FHIR `system|value`, e.g. an NPI. */
  @Column({ type: 'text' })
  identifier!: string;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt!: Date | null;

  @Column({ name: 'revoked_by', type: 'varchar', length: 42, nullable: true })
  revokedBy!: string | null;

  @Column({ name: 'tx_hash', type: 'varchar', length: 66 })
  txHash!: string;

  @Column({ name: 'block_number', type: 'int' })
  blockNumber!: number;
}
