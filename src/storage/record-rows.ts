import { RecordEntity, RecordVersionEntity } from './entities/index.js';

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

/** A record_version row (snake_case) as the entity. */
export function versionFromRow(row: Record<string, unknown>): RecordVersionEntity {
  const version = new RecordVersionEntity();
  Object.assign(version, {
    recordId: row.record_id,
    version: Number(row.version),
    cid: row.cid,
    envelopeBytes: Number(row.envelope_bytes),
    author: row.author,
    contentHmac: row.content_hmac ?? null,
    previousCid: row.previous_cid ?? null,
    createdAt: new Date(row.created_at as string | Date),
    authorVerified: row.author_verified === true,
    anchorTx: row.anchor_tx ?? null,
    anchorBlock:
      row.anchor_block === null || row.anchor_block === undefined ? null : Number(row.anchor_block),
    anchoredAt: row.anchored_at ? new Date(row.anchored_at as string | Date) : null,
  });
  return version;
}
