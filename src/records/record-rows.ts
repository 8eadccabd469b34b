import { RecordEntity } from '../storage/entities/index.js';

/** A record row (from RETURNING or json_agg, snake_case) as the entity. */
export function recordFromRow(row: Record<string, unknown>): RecordEntity {
  const record = new RecordEntity();
  Object.assign(record, {
    id: row.id,
    patient: row.patient,
    resourceType: row.resource_type,
    sourceId: row.source_id ?? null,
    sourceKey: row.source_key ?? null,
    fullUrl: row.full_url ?? null,
    author: row.author,
    currentVersion: Number(row.current_version),
    effectiveAt: new Date(row.effective_at as string | Date),
    codes: (row.codes as string[] | null) ?? [],
    status: row.status ?? null,
    createdAt: new Date(row.created_at as string | Date),
    updatedAt: new Date(row.updated_at as string | Date),
  });
  return record;
}
