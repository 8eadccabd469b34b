import { Column, Entity, PrimaryColumn } from 'typeorm';

/** The last chain block whose events this node has applied to its cache. */
@Entity('chain_cursor')
export class ChainCursorEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  name!: string;

  @Column({ name: 'block_number', type: 'int' })
  blockNumber!: number;

  /** When the cursor was last written (followers read the leader's indexer lag from it). */
  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt!: Date;
}
