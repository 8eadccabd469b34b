import type { DataSource } from 'typeorm';
import { clearCache } from './cache-reset.js';

/** Tables whose rows only a rebuild (or normal operation) puts there: any row means "not empty". */
const CACHE_TABLES = [
  'account',
  'record',
  'record_version',
  'access_grant',
  'attestation',
  'organization',
  'audit_entry',
  'audit_batch',
  'access_alert',
  'break_glass_policy',
  'anchor_outbox',
];

/** Questions about the cache as a whole, for deciding on and reporting a rebuild. */
export class CacheStateStore {
  constructor(private readonly dataSource: DataSource) {}

  /** Whether any table that holds cached chain or IPFS state has a row. */
  async holdsAnyState(): Promise<boolean> {
    const [row] = (await this.dataSource.query(
      `SELECT ${CACHE_TABLES.map((table) => `EXISTS (SELECT 1 FROM ${table})`).join(' OR ')} AS "any"`,
    )) as { any: boolean }[];
    return row.any;
  }

  /** Record versions indexed, and versions refused into the record quarantine. */
  async recordVersionCounts(): Promise<{ indexed: number; quarantined: number }> {
    const [held] = (await this.dataSource.query(
      `SELECT (SELECT count(*) FROM record_version)::int AS indexed,
              (SELECT count(*) FROM record_quarantine)::int AS quarantined`,
    )) as { indexed: number; quarantined: number }[];
    return held;
  }

  /** Empties the cache (see clearCache: refused while versions wait for their anchor). */
  clear(): Promise<void> {
    return clearCache(this.dataSource);
  }
}
