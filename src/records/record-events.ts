import type { RecordEntity } from '../storage/entities/index.js';

/** How many events a slow subscriber may fall behind before its subscription ends. */
const MAX_BUFFERED = 1_000;

export class SubscriberTooSlowError extends Error {
  constructor() {
    super(`subscriber fell more than ${MAX_BUFFERED} records behind; subscribe again`);
    this.name = 'SubscriberTooSlowError';
  }
}

/**
 * In-process pub/sub of new record versions. The record writer publishes here after each commit,
 * whichever path wrote (addRecord, importBundle, key rotation, adoption of versions from other nodes).
 */
export class RecordEvents {
  private readonly listeners = new Set<(record: RecordEntity) => void>();

  /** Tells every subscriber of each record's patient; never throws. */
  publish(records: readonly RecordEntity[]): void {
    for (const record of records) for (const listener of this.listeners) listener(record);
  }

  /** New record versions of one patient, from now on, until `return()` or the signal aborts. */
  subscribe(patient: string, signal?: AbortSignal): AsyncIterableIterator<RecordEntity> {
    const queue: RecordEntity[] = [];
    let waiting: ((result: IteratorResult<RecordEntity>) => void) | undefined;
    let failed: Error | undefined;
    let done = false;
    const finish = () => {
      done = true;
      this.listeners.delete(listener);
      signal?.removeEventListener('abort', finish);
      waiting?.({ value: undefined, done: true });
      waiting = undefined;
    };
    const listener = (record: RecordEntity) => {
      if (record.patient !== patient || done) return;
      if (waiting) {
        const resolve = waiting;
        waiting = undefined;
        resolve({ value: record, done: false });
      } else if (queue.length >= MAX_BUFFERED) {
        failed = new SubscriberTooSlowError();
        this.listeners.delete(listener);
      } else {
        queue.push(record);
      }
    };
    this.listeners.add(listener);
    signal?.addEventListener('abort', finish);
    if (signal?.aborted) finish();
    const iterator: AsyncIterableIterator<RecordEntity> = {
      next: () => {
        if (queue.length > 0) return Promise.resolve({ value: queue.shift()!, done: false });
        if (failed) {
          const error = failed;
          finish();
          return Promise.reject(error);
        }
        if (done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => (waiting = resolve));
      },
      return: () => {
        queue.length = 0;
        finish();
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  get subscriberCount(): number {
    return this.listeners.size;
  }
}
