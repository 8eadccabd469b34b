import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { ContentStore } from './content-store.js';
import { kuboPinner } from './kubo-pinner.js';
import type { PinBacklog, PinOutboxStore } from './pin-outbox-store.js';
import { PinQueue } from './pin-queue.js';
import { withPinning } from './pinning-content-store.js';

export interface Pinning {
  /** The content store the node writes through: the blockstore, queuing pins when Kubo is configured. */
  content: ContentStore;
  /** The running pin queue, when Kubo is configured. */
  queue?: PinQueue;
  backlog(): Promise<PinBacklog>;
}

/** Pinning to Kubo / IPFS Cluster when `OMNICHART_KUBO_API` is set; otherwise the blockstore as it is. */
export function startPinning(
  settings: Config['pinning'],
  outbox: PinOutboxStore,
  stored: ContentStore,
  logger: Logger,
): Pinning {
  if (!settings.kuboApiUrl) return { content: stored, backlog: () => outbox.backlog() };
  const queue = new PinQueue({
    outbox,
    content: stored,
    pinner: kuboPinner({ apiUrl: settings.kuboApiUrl, authorization: settings.authorization }),
    batchSize: settings.batchSize,
    intervalMs: settings.intervalMs,
    requestTimeoutMs: settings.requestTimeoutMs,
    logger,
  });
  queue.start();
  return {
    content: withPinning(stored, outbox, () => queue.notify()),
    queue,
    backlog: () => outbox.backlog(),
  };
}
