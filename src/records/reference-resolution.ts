import type { Resource } from '@medplum/fhirtypes';
import type { DataSource } from 'typeorm';
import type { RecordEntity } from '../storage/entities/index.js';
import { referencesOf } from './bundle.js';

/** A reference in a resource and the stored record it denotes in the same source's data, if any. */
export interface ResolvedReference {
  reference: string;
  recordId: string | null;
}

/**
 * Resolves the references of each record's resource to stored records of the same source and
 * chart: `urn:uuid:` / `urn:oid:` by the fullUrl it was imported under, `Type/id` by the source's
 * own id. One query for the whole list (what the `references` loader calls), the answers in order.
 * References stay as written in the resource; this is the graph view over them. It says which
 * record a reference names, not whether the caller may read that record: reading it is checked
 * when it is read. Should two records match one reference, the one imported under it as fullUrl
 * wins, then the smallest id.
 */
export async function resolveReferencesOf(
  dataSource: DataSource,
  items: readonly { record: RecordEntity; resource: Resource }[],
): Promise<ResolvedReference[][]> {
  const lists = items.map(({ resource }) => referencesOf(resource).filter((r) => !r.startsWith('#')));
  const item: number[] = [];
  const references: string[] = [];
  const patients: string[] = [];
  const authors: string[] = [];
  lists.forEach((list, i) => {
    for (const reference of list) {
      item.push(i);
      references.push(reference);
      patients.push(items[i].record.patient);
      authors.push(items[i].record.author);
    }
  });
  if (references.length === 0) return lists.map(() => []);
  // Two equality joins (by fullUrl; by type and source id), so each can use an index or a hash.
  const rows: { i: number; reference: string; id: string }[] = await dataSource.query(
    `WITH t AS (
       SELECT * FROM unnest($1::int[], $2::text[], $3::varchar[], $4::varchar[]) AS t(i, reference, patient, author)
     )
     SELECT DISTINCT ON (i, reference) i, reference, id FROM (
       SELECT t.i, t.reference, r.id, 0 AS rank FROM t
         JOIN record r ON r.patient = t.patient AND r.author = t.author AND r.full_url = t.reference
       UNION ALL
       SELECT t.i, t.reference, r.id, 1 AS rank FROM t
         JOIN record r ON r.patient = t.patient AND r.author = t.author
          AND r.resource_type = split_part(t.reference, '/', 1)
          AND r.source_id = split_part(t.reference, '/', 2)
        WHERE t.reference ~ '^[A-Za-z]+/[A-Za-z0-9.-]+$'
     ) found ORDER BY i, reference, rank, id`,
    [item, references, patients, authors],
  );
  const found = new Map(rows.map((row) => [`${row.i}\u0000${row.reference}`, row.id]));
  return lists.map((list, i) =>
    list.map((reference) => ({ reference, recordId: found.get(`${i}\u0000${reference}`) ?? null })),
  );
}
