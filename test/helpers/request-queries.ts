import pg from 'pg';
import { currentLogScope } from '../../src/logger.js';

/**
 * The SELECTs (and WITH queries) the node sends to Postgres while serving requests during `run`,
 * whose text matches `tables`. Counted at the pg driver, since stores run statements both through
 * TypeORM and on its pool directly; only statements made inside a request's scope (it carries a
 * requestId) count, so background work (the anchor queue, the indexer) never adds to the figure.
 */
export async function requestQueriesDuring(run: () => Promise<unknown>, tables: RegExp): Promise<string[]> {
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const query = proto.query;
  const seen: string[] = [];
  proto.query = function (this: unknown, ...args: unknown[]) {
    const config = args[0];
    const text = typeof config === 'string' ? config : String((config as { text?: string })?.text ?? '');
    if (currentLogScope().requestId && /^\s*(WITH|SELECT)/i.test(text) && tables.test(text)) seen.push(text);
    return query.apply(this, args);
  };
  try {
    await run();
  } finally {
    proto.query = query;
  }
  return seen;
}
