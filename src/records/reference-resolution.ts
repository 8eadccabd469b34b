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
 * Resolves the references of a record's resource to stored records of the same source and chart:
 * `urn:uuid:` / `urn:oid:` by the fullUrl it was imported under, `Type/id` by the source's own id.
 * References stay as written in the resource; this is the graph view over them.
 */
export async function resolveReferences(
  dataSource: DataSource,
  record: RecordEntity,
  resource: Resource,
): Promise<ResolvedReference[]> {
  const references = referencesOf(resource).filter((r) => !r.startsWith('#'));
  if (references.length === 0) return [];
  const rows: { reference: string; id: string }[] = await dataSource.query(
    `SELECT t.reference, r.id FROM unnest($3::text[]) AS t(reference)
       JOIN record r ON r.patient = $1 AND r.author = $2
        AND (r.full_url = t.reference
             OR (r.resource_type = split_part(t.reference, '/', 1)
                 AND r.source_id = split_part(t.reference, '/', 2)
                 AND t.reference ~ '^[A-Za-z]+/[A-Za-z0-9.-]+$'))`,
    [record.patient, record.author, references],
  );
  const found = new Map(rows.map((row) => [row.reference, row.id]));
  return references.map((reference) => ({ reference, recordId: found.get(reference) ?? null }));
}
