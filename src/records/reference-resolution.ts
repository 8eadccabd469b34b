import type { Resource } from '@medplum/fhirtypes';
import type { RecordEntity } from '../storage/entities/index.js';
import type { ReferenceLookup, RecordStore } from '../storage/record-store.js';
import { referencesOf } from './bundle.js';

/** A reference in a resource and the stored record it denotes in the same source's data, if any. */
export interface ResolvedReference {
  reference: string;
  recordId: string | null;
}

/**
 * Resolves the references of each record's resource to stored records of the same source and
 * chart: `urn:uuid:` / `urn:oid:` by the fullUrl it was imported under, `Type/id` by the source's
 * own id (the store's {@link RecordStore.referencedRecords}). One query for the whole list (what the `references` loader calls), the answers in order.
 * References stay as written in the resource; this is the graph view over them. It says which
 * record a reference names, not whether the caller may read that record: reading it is checked
 * when it is read. Should two records match one reference, the one imported under it as fullUrl
 * wins, then the smallest id.
 */
export async function resolveReferencesOf(
  store: RecordStore,
  items: readonly { record: RecordEntity; resource: Resource }[],
): Promise<ResolvedReference[][]> {
  const lists = items.map(({ resource }) => referencesOf(resource).filter((r) => !r.startsWith('#')));
  const lookups: ReferenceLookup[] = lists.flatMap((list, item) =>
    list.map((reference) => ({
      item,
      reference,
      patient: items[item].record.patient,
      author: items[item].record.author,
    })),
  );
  if (lookups.length === 0) return lists.map(() => []);
  const found = await store.referencedRecords(lookups);
  return lists.map((list, i) =>
    list.map((reference) => ({ reference, recordId: found.get(`${i}\u0000${reference}`) ?? null })),
  );
}
