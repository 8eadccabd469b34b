import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A patient's signed break-glass policy, from chain events; no row means break-glass is allowed. */
@Entity('break_glass_policy')
export class BreakGlassPolicyEntity {
  @PrimaryColumn({ type: 'varchar', length: 42 })
  patient!: string;

  @Column({ type: 'boolean' })
  refuse!: boolean;

  @Column({ name: 'tx_hash', type: 'varchar', length: 66 })
  txHash!: string;

  @Column({ name: 'block_number', type: 'int' })
  blockNumber!: number;
}
