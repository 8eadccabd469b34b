import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

export type Role = 'PATIENT' | 'PRACTITIONER' | 'ORGANIZATION' | 'ANALYST' | 'ADMIN';

/** A registered identity: an Ethereum address with a role and an X25519 box key for envelopes. */
@Entity('account')
export class AccountEntity {
  /** Lower-case 0x address. */
  @PrimaryColumn({ type: 'varchar', length: 42 })
  address!: string;

  @Column({ type: 'varchar', length: 16 })
  role!: Role;

  @Column({ name: 'display_name', type: 'varchar', length: 200 })
  displayName!: string;

  /** Base64 of the 32-byte X25519 public key records are wrapped for. */
  @Column({ name: 'box_public_key', type: 'varchar', length: 64 })
  boxPublicKey!: string;

  /** The issue time inside the signed registration; a re-registration must be newer. */
  @Column({ name: 'registration_issued_at', type: 'timestamptz' })
  registrationIssuedAt!: Date;

  @Column({ name: 'registration_signature', type: 'varchar', length: 140 })
  registrationSignature!: string;

  @Column({ name: 'key_anchor_tx', type: 'varchar', length: 66, nullable: true })
  keyAnchorTx!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
