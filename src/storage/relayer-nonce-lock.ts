import type { DataSource } from 'typeorm';
import { LOCK_CLASS } from './leader-election.js';

/**
 * Runs `work` inside a Postgres transaction holding the advisory transaction lock of the relayer
 * account, so replicas sharing one relayer key assign nonces and broadcast one at a time; the lock
 * goes with the transaction, also when the process dies mid-send.
 */
export function relayerNonceLock(dataSource: DataSource) {
  return async <T>(relayer: string, work: () => Promise<T>): Promise<T> => {
    const runner = dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      await runner.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [
        LOCK_CLASS.relayerNonce,
        relayer.toLowerCase(),
      ]);
      const result = await work();
      await runner.commitTransaction();
      return result;
    } catch (error) {
      await runner.rollbackTransaction().catch(() => undefined);
      throw error;
    } finally {
      await runner.release();
    }
  };
}
