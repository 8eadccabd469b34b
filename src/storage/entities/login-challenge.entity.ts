import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

/** A Sign-In with Ethereum message the node issued; usable once, before it expires. */
@Entity('login_challenge')
export class LoginChallengeEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  nonce!: string;

  @Index('IDX_login_challenge_address')
  @Column({ type: 'varchar', length: 42 })
  address!: string;

  @Column({ type: 'text' })
  message!: string;

  @Index('IDX_login_challenge_expires_at')
  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;

  @Column({ name: 'used_at', type: 'timestamptz', nullable: true })
  usedAt!: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
