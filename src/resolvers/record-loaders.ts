import DataLoader from 'dataloader';
import type { Resource } from '@medplum/fhirtypes';
import { IntegrityError } from '../errors.js';
import type { RecordEntity, RecordVersionEntity } from '../storage/entities/index.js';
import type { RequestContext } from './context.js';

/**
 * Per-request (or per-subscription) DataLoaders for what each record of a page needs, so a page of N
 * records costs one query per field, not N. Batches stay under the size of an efficient `IN` list.
 */
const MAX_BATCH = 200;

function perContext<K, V, C>(
  make: (ctx: RequestContext) => DataLoader<K, V, C>,
): (ctx: RequestContext) => DataLoader<K, V, C> {
  const loaders = new WeakMap<RequestContext, DataLoader<K, V, C>>();
  return (ctx) => {
    let loader = loaders.get(ctx);
    if (!loader) {
      loader = make(ctx);
      loaders.set(ctx, loader);
    }
    return loader;
  };
}

const versionKey = (record: RecordEntity) => `${record.id}:${record.currentVersion}`;

/** Decrypted current resources: one version query plus parallel decryption, charged to the budget. */
export const resourceLoader = perContext(
  (ctx) =>
    new DataLoader<RecordEntity, Resource, string>(
      (records) => ctx.services.records.readResources(records, ctx.decryptions),
      { cacheKeyFn: versionKey, maxBatchSize: MAX_BATCH },
    ),
);

/** The current version row (cid, anchor, authorVerified) of each record. */
export const currentVersionLoader = perContext(
  (ctx) =>
    new DataLoader<RecordEntity, RecordVersionEntity, string>(
      // A record without its row fails alone, not the page it came with.
      async (records) =>
        (await ctx.services.records.currentVersions(records)).map(
          (row, i) =>
            row ?? new IntegrityError(`record ${records[i].id} has no version ${records[i].currentVersion}`),
        ),
      { cacheKeyFn: versionKey, maxBatchSize: MAX_BATCH },
    ),
);

/**
 * Every version of each record, newest first (`history`). Keyed by the current version too: a
 * subscription's loader lives across events, and a record's next version must not see the old list.
 */
export const historyLoader = perContext(
  (ctx) =>
    new DataLoader<RecordEntity, RecordVersionEntity[], string>(
      (records) => ctx.services.records.versionsOf(records.map((r) => r.id)),
      { cacheKeyFn: versionKey, maxBatchSize: MAX_BATCH },
    ),
);
