import type { DataSource } from 'typeorm';

/** One record version, by record and number. */
export interface VersionKey {
  recordId: string;
  version: number;
}

/** Which record versions the cache holds already (sync skips those). */
export class HeldVersionStore {
  constructor(private readonly dataSource: DataSource) {}

  /** The versions among `versions` that record_version holds, as `recordId:version` strings. */
  async heldOf(versions: readonly VersionKey[]): Promise<Set<string>> {
    if (versions.length === 0) return new Set();
    const rows: { record_id: string; version: number }[] = await this.dataSource.query(
      `SELECT v.record_id, v.version FROM record_version v
         JOIN unnest($1::uuid[], $2::int[]) AS t(record_id, version)
           ON v.record_id = t.record_id AND v.version = t.version`,
      [versions.map((v) => v.recordId), versions.map((v) => v.version)],
    );
    return new Set(rows.map((row) => `${row.record_id}:${row.version}`));
  }
}
