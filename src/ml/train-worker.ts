/** Worker thread of the training pool: trains one (dataset, algorithm) per message. */
import { parentPort } from 'node:worker_threads';
import type { CvProtocol } from './evaluate.js';
import { trainModel, type InMemoryRows } from './training.js';

export interface TrainJob {
  dataset: string;
  algorithm: string;
  protocol: CvProtocol;
  dataDir: string;
  /** A research cohort's rows, handed to this thread in memory (never written anywhere). */
  rows?: InMemoryRows;
}

export type WorkerMessage =
  | { type: 'fold'; done: number; total: number }
  | { type: 'done'; artifact: unknown; seconds: number }
  | { type: 'error'; message: string };

parentPort?.on('message', async (job: TrainJob) => {
  const started = performance.now();
  try {
    const { artifact } = await trainModel({
      ...job,
      hooks: {
        onFold: (done, total) => parentPort!.postMessage({ type: 'fold', done, total } as WorkerMessage),
      },
    });
    parentPort!.postMessage({
      type: 'done',
      artifact,
      seconds: (performance.now() - started) / 1000,
    } as WorkerMessage);
  } catch (error) {
    parentPort!.postMessage({
      type: 'error',
      message: (error as Error).stack ?? String(error),
    } as WorkerMessage);
  }
});
