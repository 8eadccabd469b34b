import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Work one operation (one GraphQL request over HTTP, one operation over a socket) does once, however
 * many of its resolvers ask: catching up with the chain before access decisions, an audit entry for
 * the same access. Kept in AsyncLocalStorage, so the services between the request boundary and the
 * policy pass nothing along. Outside an operation (background work, a subscription's later events)
 * every request does the work itself.
 */
export class OperationScope {
  private readonly storage = new AsyncLocalStorage<Map<string, Promise<unknown>>>();

  /** Runs `work` as one operation: `once` calls inside it share their results. */
  run<T>(work: () => T): T {
    return this.storage.run(new Map(), work);
  }

  /**
   * The result of `work` for `key` in this operation: the first call runs it, later calls get the
   * same promise (a failure included, so one operation never sees two answers). Outside an
   * operation, runs `work` every time.
   */
  once<T>(key: string, work: () => Promise<T>): Promise<T> {
    const results = this.storage.getStore();
    if (!results) return work();
    let result = results.get(key) as Promise<T> | undefined;
    if (!result) {
      result = work();
      results.set(key, result);
    }
    return result;
  }

  get active(): boolean {
    return this.storage.getStore() !== undefined;
  }
}
