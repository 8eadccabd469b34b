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
  private readonly forwarders: ((records: readonly RecordEntity[]) => void)[] = [];

  /** Tells every subscriber of each record's patient, here and (when forwarded) on other replicas. */
  publish(records: readonly RecordEntity[]): void {
    this.deliver(records);
    if (records.length > 0) for (const forward of this.forwarders) forward(records);
  }

  /** Tells the subscribers of this process only (versions another replica wrote); never throws. */
  deliver(records: readonly RecordEntity[]): void {
    for (const record of records) for (const listener of this.listeners) listener(record);
  }

  /** Also hands every published batch to `forward` (the replica fan-out); it must not throw. */
  forwardTo(forward: (records: readonly RecordEntity[]) => void): void {
    this.forwarders.push(forward);
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
