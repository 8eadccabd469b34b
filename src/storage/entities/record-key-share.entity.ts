import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/**
 * A copy of a record version's envelope with the record key also wrapped for a grantee, made when a
 * grant covers records written before it; the grantee opens it from IPFS with its own key.
 */
@Entity('record_key_share')
export class RecordKeyShareEntity {
  @PrimaryColumn({ name: 'record_id', type: 'uuid' })
  recordId!: string;

  @PrimaryColumn({ type: 'int' })
  version!: number;

  @PrimaryColumn({ type: 'varchar', length: 42 })
  grantee!: string;

  @Column({ type: 'varchar', length: 128 })
  cid!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
