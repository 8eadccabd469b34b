import { Column, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/** Organizations the network operator admitted (or withdrew), as the chain's events say. */
@Entity('organization')
export class OrganizationEntity {
  /** Lower-case 0x address. */
  @PrimaryColumn({ type: 'varchar', length: 42 })
  address!: string;

  @Column({ type: 'boolean' })
  admitted!: boolean;

  @Column({ name: 'tx_hash', type: 'varchar', length: 66 })
  txHash!: string;

  @Column({ name: 'block_number', type: 'int' })
  blockNumber!: number;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
