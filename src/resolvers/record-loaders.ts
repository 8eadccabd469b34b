import DataLoader from 'dataloader';
import type { Resource } from '@medplum/fhirtypes';
import { IntegrityError } from '../errors.js';
import type { ResolvedReference } from '../records/record-service.js';
import type { RecordEntity, RecordVersionEntity } from '../storage/entities/index.js';
import type { RequestContext } from './context.js';

/**
 * Per-execution DataLoaders (one request, or one event of a subscription) for what each record of a
 * page needs, so a page of N records costs one query per field, not N. Batches stay under the size
 * of an efficient `IN` list.
 */
const MAX_BATCH = 200;

function perContext<K, V, C>(
  make: (ctx: RequestContext) => DataLoader<K, V, C>,
): (ctx: RequestContext) => DataLoader<K, V, C> {
  const owner = {};
  return (ctx) => ctx.perExecutionValue(owner, () => make(ctx));
}

const versionKey = (record: RecordEntity) => `${record.id}:${record.currentVersion}`;

/**
 * The caller's right to read each record's content, checked by the policy record by record (each
 * check audited as before) but answered for the batch at once: the records of a page then go on to
 * their content, and what needs it (`references`), together, in one batch each, whatever the time
 * each policy check took. A refused record fails alone.
 */
export const readAccessLoader = perContext(
  (ctx) =>
    new DataLoader<RecordEntity, true, string>(
      async (records) => {
        const caller = await ctx.caller();
        const checks = await Promise.allSettled(
          records.map((record) => ctx.services.records.authorizeRead(caller, record)),
        );
        return checks.map((check) =>
          check.status === 'fulfilled'
            ? true
            : check.reason instanceof Error
              ? check.reason
              : new Error(String(check.reason)),
        );
      },
      { cacheKeyFn: (record) => record.id, maxBatchSize: MAX_BATCH },
    ),
);

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
 * Every version of each record, newest first (`history`). Keyed by the current version too, so a
 * record's next version never sees the old list (a subscription's loaders also start afresh with
 * each event: RequestContext.nextEvent).
 */
export const historyLoader = perContext(
  (ctx) =>
    new DataLoader<RecordEntity, RecordVersionEntity[], string>(
      (records) => ctx.services.records.versionsOf(records.map((r) => r.id)),
      { cacheKeyFn: versionKey, maxBatchSize: MAX_BATCH },
    ),
);

/**
 * The CID of an envelope the caller's own box key opens, per current version (`envelopeCid`): one
 * query for the caller's key shares of the whole batch, one for its box key, then the envelope headers
 * of the versions without a share, read in parallel (no decryption).
 */
export const envelopeCidLoader = perContext(
  (ctx) =>
    new DataLoader<RecordVersionEntity, string | null, string>(
      async (versions) => ctx.services.keySharing.envelopesFor((await ctx.caller()).address, versions),
      { cacheKeyFn: (row) => `${row.recordId}:${row.version}`, maxBatchSize: MAX_BATCH },
    ),
);

/**
 * Each record's references resolved to stored records (`references`), in one query per batch. The
 * resolver reads (and so authorizes) the referring record first; what a reference resolves to is the
 * rule of `RecordService.resolveReferencesOf`, the same for a batch as for one record.
 */
export const referencesLoader = perContext(
  (ctx) =>
    new DataLoader<{ record: RecordEntity; resource: Resource }, ResolvedReference[], string>(
      (items) => ctx.services.records.resolveReferencesOf(items),
      { cacheKeyFn: ({ record }) => versionKey(record), maxBatchSize: MAX_BATCH },
    ),
);
