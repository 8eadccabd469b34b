import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

export type GrantKind = 'CONSENT' | 'BREAK_GLASS';

/**
 * Cache of access grants. CONSENT grants mirror the chain (patient-signed, indexed from events and
 * written through when this node relays them); BREAK_GLASS grants are the node's emergency overrides,
 * also recorded on chain.
 */
@Entity('access_grant')
@Index(['patient', 'grantee'])
// Research queries read every grant made to one organization.
@Index('IDX_access_grant_grantee', ['grantee'])
export class GrantEntity {
  /** The chain's grant id (decimal) for CONSENT; `bg-<uuid>` for BREAK_GLASS. */
  @PrimaryColumn({ type: 'varchar', length: 80 })
  id!: string;

  @Column({ type: 'varchar', length: 16 })
  kind!: GrantKind;

  @Column({ type: 'varchar', length: 42 })
  patient!: string;

  @Column({ type: 'varchar', length: 42 })
  grantee!: string;

  /** Canonical scope text as signed: sorted, space-separated. */
  @Column({ type: 'text' })
  scopes!: string;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt!: Date | null;

  /** Break-glass only: the reason the practitioner gave. */
  @Column({ type: 'text', nullable: true })
  reason!: string | null;

  @Column({ name: 'created_tx', type: 'varchar', length: 66, nullable: true })
  createdTx!: string | null;

  @Column({ name: 'created_block', type: 'int', nullable: true })
  createdBlock!: number | null;

  @Column({ name: 'revoked_tx', type: 'varchar', length: 66, nullable: true })
  revokedTx!: string | null;

  /**
   * Block of the revocation, so adoption can tell whether the grant still held when a version was
   * anchored; null while unknown (a revoked grant with no block counts as revoked from the start).
   */
  @Column({ name: 'revoked_block', type: 'int', nullable: true })
  revokedBlock?: number | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
