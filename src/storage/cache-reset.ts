import type { DataSource } from 'typeorm';
import { ACCOUNT_CHANGED_CHANNEL } from './session-events.js';

/** Every table of the cache; the TypeORM migrations table is left, so the schema stays as it is. */
const CACHE_TABLES = [
  'access_alert',
  'access_grant',
  'account',
  'anchor_outbox',
  'attestation',
  'audit_batch',
  'audit_entry',
  'break_glass_policy',
  'chain_cursor',
  'login_challenge',
  'organization',
  'patient_alias',
  'rate_limit',
  'record',
  'record_key_share',
  'record_quarantine',
  'record_version',
  'session',
  'sync_quarantine',
  'training_job',
];

/** Why a cache cannot be cleared without losing something the chain does not have. */
export class UnanchoredWritesError extends Error {
  readonly code = 'UNANCHORED_WRITES';
  constructor(readonly pending: number) {
    super(
      `${pending} record version(s) are written but not anchored yet: clearing the cache would lose them. ` +
        'Start the node until its anchor backlog is empty, then rebuild.',
    );
  }
}

/**
 * Empties the cache so the next start rebuilds it from the chain. Refuses (and changes nothing) while
 * the anchor outbox holds versions: those exist nowhere else yet.
 */
export async function clearCache(dataSource: DataSource): Promise<void> {
  await dataSource.transaction(async (tx) => {
    await tx.query(`LOCK TABLE anchor_outbox IN EXCLUSIVE MODE`);
    const [{ pending }] = (await tx.query(`SELECT count(*)::int AS pending FROM anchor_outbox`)) as {
      pending: number;
    }[];
    if (pending > 0) throw new UnanchoredWritesError(pending);
    await tx.query(`TRUNCATE ${CACHE_TABLES.join(', ')} RESTART IDENTITY CASCADE`);
    // Account caches of running replicas empty themselves at commit (see AccountStore.cacheWith).
    await tx.query(`SELECT pg_notify('${ACCOUNT_CHANGED_CHANNEL}', '*')`);
  });
}
