import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * One rate-limit window: the columns `rate-limiter-flexible`'s RateLimiterPostgres reads and writes
 * (`<limiter>:<ip or account>`, points used, window end in epoch milliseconds). Disposable like the
 * rest of the cache; rows whose window ended are swept.
 */
@Entity('rate_limit')
export class RateLimitEntity {
  @PrimaryColumn({ type: 'varchar', length: 255 })
  key!: string;

  @Column({ type: 'integer', default: 0 })
  points!: number;

  @Column({ type: 'bigint', nullable: true })
  expire!: string | null;
}
