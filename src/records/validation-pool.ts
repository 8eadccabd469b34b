import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../logger.js';
import type { EntryVerdict, PlanEntryOptions } from './bundle.js';

/** A chunk of Bundle entries for a worker: about 15–30 ms of validation. */
export interface ValidationJob {
  id: number;
  firstIndex: number;
  entries: unknown[];
  transaction: boolean;
  options: PlanEntryOptions;
}

/** A worker's answer: ready once its FHIR definitions are loaded, then one reply per job. */
export type ValidationReply =
  | { kind: 'ready' }
  | { kind: 'verdicts'; id: number; verdicts: EntryVerdict[] }
  | { kind: 'failed'; id: number; error: string };

export interface ValidationPoolOptions {
  /** Worker threads; 0 keeps all validation on the main thread. */
  threads: number;
  /** Bundles with fewer entries are validated on the main thread (a message costs more than they do). */
  minEntries: number;
  logger?: Logger;
  /** The worker script; the built `validation-worker.js` beside this module by default. */
  workerUrl?: URL;
}

const CHUNK = 100;
/**
 * A worker's live heap is ~15 MB (the indexed definitions) plus a chunk, but with V8's default
 * generation sizes two workers added ~460 MB of RSS on a 3,000-entry Bundle; with these ~210 MB at
 * the same speed (a young generation of 8 MB made validation 3× slower).
 */
const WORKER_LIMITS = { maxOldGenerationSizeMb: 128, maxYoungGenerationSizeMb: 16 };

interface PoolWorker {
  worker: Worker;
  ready: boolean;
  busy: boolean;
}

interface Pending {
  job: ValidationJob;
  resolve: (verdicts: EntryVerdict[]) => void;
  reject: (error: Error) => void;
}

/**
 * FHIR validation of large Bundles on worker threads: each entry costs 0.15–0.3 ms of the validator,
 * a third of an import's main-thread time, which the workers take off the event loop and spread over
 * the cores. Workers start on the first large Bundle (that one is still validated on the main thread
 * while they load the FHIR definitions) and stay; a worker that dies is replaced, and the Bundle it
 * was checking is checked again on the main thread by the caller.
 */
export class ValidationPool {
  private readonly workers: PoolWorker[] = [];
  private readonly queue: Pending[] = [];
  private readonly inFlight = new Map<number, { pending: Pending; owner: PoolWorker }>();
  private nextId = 0;
  private closed = false;
  private readonly workerUrl: URL;
  /** False under ts-jest (sources only, no built worker) or with 0 threads. */
  readonly available: boolean;

  constructor(private readonly options: ValidationPoolOptions) {
    this.workerUrl = options.workerUrl ?? new URL('./validation-worker.js', import.meta.url);
    this.available = options.threads > 0 && existsSync(fileURLToPath(this.workerUrl));
  }

  /**
   * Each entry's verdict, in order, from the workers; undefined when the caller should validate on
   * the main thread (a small Bundle, no pool, or workers still starting).
   * @throws Error when a worker died or failed on a chunk (the caller validates the Bundle itself)
   */
  async verdicts(
    entries: readonly unknown[],
    transaction: boolean,
    options: PlanEntryOptions,
  ): Promise<EntryVerdict[] | undefined> {
    if (!this.available || this.closed || entries.length < this.options.minEntries) return undefined;
    this.start();
    if (!this.workers.some((w) => w.ready)) return undefined;
    const chunks: Promise<EntryVerdict[]>[] = [];
    for (let first = 0; first < entries.length; first += CHUNK) {
      const job: ValidationJob = {
        id: (this.nextId += 1),
        firstIndex: first,
        entries: entries.slice(first, first + CHUNK),
        transaction,
        options,
      };
      chunks.push(new Promise((resolve, reject) => this.queue.push({ job, resolve, reject })));
    }
    this.dispatch();
    return (await Promise.all(chunks)).flat();
  }

  /** Ends the workers; chunks still queued or running fail (their callers validate themselves). */
  async close(): Promise<void> {
    this.closed = true;
    const failure = new Error('the validation pool is closed');
    for (const pending of this.queue.splice(0)) pending.reject(failure);
    await Promise.all(this.workers.splice(0).map((w) => w.worker.terminate()));
  }

  private start(): void {
    while (this.workers.length < this.options.threads) this.spawn();
  }

  private spawn(): void {
    const worker = new Worker(this.workerUrl, { resourceLimits: WORKER_LIMITS });
    const entry: PoolWorker = { worker, ready: false, busy: false };
    // Idle workers must not keep a stopping process alive; one with a chunk in hand does (dispatch).
    worker.unref();
    worker.on('message', (reply: ValidationReply) => this.onReply(entry, reply));
    worker.on('error', (error) => this.retire(entry, error));
    worker.on('exit', (code) => this.retire(entry, new Error(`validation worker exited (${code})`)));
    this.workers.push(entry);
  }

  private onReply(entry: PoolWorker, reply: ValidationReply): void {
    if (reply.kind === 'ready') {
      entry.ready = true;
    } else {
      const running = this.inFlight.get(reply.id);
      this.inFlight.delete(reply.id);
      entry.busy = false;
      entry.worker.unref();
      if (reply.kind === 'failed') running?.pending.reject(new Error(reply.error));
      else running?.pending.resolve(reply.verdicts);
    }
    this.dispatch();
  }

  /** A worker that failed or exited: its chunk fails, and the next large Bundle starts a new one. */
  private retire(entry: PoolWorker, error: Error): void {
    const index = this.workers.indexOf(entry);
    if (index < 0) return;
    this.workers.splice(index, 1);
    for (const [id, running] of this.inFlight) {
      if (running.owner !== entry) continue;
      this.inFlight.delete(id);
      running.pending.reject(error);
    }
    if (!this.closed) this.options.logger?.warn('validation worker lost', { error: error.message });
    // With no worker left, nothing would take the queued chunks.
    if (!this.workers.some((w) => w.ready)) for (const pending of this.queue.splice(0)) pending.reject(error);
    void entry.worker.terminate();
  }

  private dispatch(): void {
    for (const entry of this.workers) {
      if (!entry.ready || entry.busy) continue;
      const pending = this.queue.shift();
      if (!pending) return;
      entry.busy = true;
      entry.worker.ref();
      this.inFlight.set(pending.job.id, { pending, owner: entry });
      entry.worker.postMessage(pending.job);
    }
  }
}
