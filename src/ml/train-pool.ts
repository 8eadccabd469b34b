import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ModelArtifact } from './artifact.js';
import type { TrainJob, WorkerMessage } from './train-worker.js';

export interface PoolResult {
  job: TrainJob;
  artifact: ModelArtifact;
  seconds: number;
}

/** Runs training jobs on worker threads (one per core by default); results in job order. */
export async function trainInPool(
  jobs: readonly TrainJob[],
  options: {
    threads?: number;
    onFold?: (job: TrainJob, done: number, total: number) => void;
    onDone?: (result: PoolResult) => void;
    /** Aborting terminates the workers and rejects. */
    signal?: AbortSignal;
  } = {},
): Promise<PoolResult[]> {
  const threads = Math.max(1, Math.min(options.threads ?? os.availableParallelism(), jobs.length));
  const results = new Array<PoolResult>(jobs.length);
  let next = 0;
  const run = async () => {
    const worker = new Worker(new URL('./train-worker.js', import.meta.url));
    try {
      while (next < jobs.length) {
        const index = next++;
        const job = jobs[index];
        results[index] = await new Promise<PoolResult>((resolve, reject) => {
          const abort = () => reject(options.signal?.reason ?? new Error('training aborted'));
          if (options.signal?.aborted) return abort();
          options.signal?.addEventListener('abort', abort, { once: true });
          const onMessage = (message: WorkerMessage) => {
            if (message.type === 'fold') return options.onFold?.(job, message.done, message.total);
            worker.off('message', onMessage);
            worker.off('error', reject);
            options.signal?.removeEventListener('abort', abort);
            if (message.type === 'error')
              reject(new Error(`${job.dataset}-${job.algorithm}: ${message.message}`));
            else resolve({ job, artifact: message.artifact as ModelArtifact, seconds: message.seconds });
          };
          worker.on('message', onMessage);
          worker.once('error', reject);
          worker.postMessage(job);
        });
        options.onDone?.(results[index]);
      }
    } finally {
      await worker.terminate();
    }
  };
  await Promise.all(Array.from({ length: threads }, run));
  return results;
}
