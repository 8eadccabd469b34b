import { CID } from 'multiformats/cid';
import type { DataSource } from 'typeorm';
import { ConflictError } from '../errors.js';
import type { RecordService } from '../records/record-service.js';
import type { ContentStore } from '../storage/content-store.js';
import { AccountEntity, RecordEntity } from '../storage/entities/index.js';
import { recipientsOf } from '../storage/envelope.js';

export interface KeyRotationOptions {
  dataSource: DataSource;
  content: ContentStore;
  /** Reads the current content and writes the new versions (through its one record writer). */
  records: RecordService;
}

/**
 * Re-seals a patient's records after access ended: every current version whose key is held by
 * someone who may no longer read it (a revoked or expired grantee named in the envelope, or given a
 * copy) gets a new version under a fresh key wrapped only for the patient, the node and the grantees
 * whose consent still covers it. Old versions stay as they were: what was shared stays shared.
 * The new version is written by the patient (on whose signed revocation it happens), keeps the
 * record's source identity, and is announced and anchored like any other.
 */
export class KeyRotation {
  constructor(private readonly options: KeyRotationOptions) {}

  /** Returns how many records got a new version. */
  async resealPatient(patient: string): Promise<number> {
    const { dataSource, content, records } = this.options;
    const { writer } = records;
    const patientAccount = await dataSource
      .getRepository(AccountEntity)
      .findOneByOrFail({ address: patient });
    const patientKey = new Uint8Array(Buffer.from(patientAccount.boxPublicKey, 'base64'));
    const current = await dataSource.query(
      `SELECT r.id, r.resource_type, r.current_version, v.cid, v.content_hmac, v.envelope_bytes
         FROM record r JOIN record_version v ON v.record_id = r.id AND v.version = r.current_version
        WHERE r.patient = $1`,
      [patient],
    );
    // Copies of current versions made for grantees at grant time, with the key each was made for.
    const shares: { record_id: string; box_public_key: string }[] = await dataSource.query(
      `SELECT s.record_id, a.box_public_key
         FROM record_key_share s
         JOIN record r ON r.id = s.record_id AND s.version = r.current_version
         JOIN account a ON a.address = s.grantee
        WHERE r.patient = $1`,
      [patient],
    );
    const allowedByType = new Map<string, Set<string>>();
    let resealed = 0;
    for (const row of current as {
      id: string;
      resource_type: string;
      current_version: number;
      cid: string;
      content_hmac: string | null;
    }[]) {
      let allowed = allowedByType.get(row.resource_type);
      if (!allowed) {
        // The same recipients the writer will wrap the new key for.
        const recipients = await writer.recipientsFor(patient, patientKey, [row.resource_type]);
        allowed = new Set(recipients.get(row.resource_type)!.map((k) => Buffer.from(k).toString('base64')));
        allowedByType.set(row.resource_type, allowed);
      }
      const envelope = await content.get(CID.parse(row.cid));
      const holders = [
        ...recipientsOf(envelope).map((k) => Buffer.from(k).toString('base64')),
        ...shares.filter((s) => s.record_id === row.id).map((s) => s.box_public_key),
      ];
      if (holders.every((k) => allowed!.has(k))) continue;

      const record = await dataSource.getRepository(RecordEntity).findOneByOrFail({ id: row.id });
      const resource = await records.readResource(record);
      try {
        await writer.write({
          patient,
          author: patient,
          patientBoxKey: patientKey,
          dropKeyShares: true,
          versions: [
            {
              recordId: row.id,
              version: row.current_version + 1,
              resource,
              previousCid: row.cid,
              contentHmac: row.content_hmac ?? writer.contentHmacOf(resource),
              sourceKey: record.sourceKey,
              fullUrl: record.fullUrl,
              effectiveAtFallback: record.effectiveAt,
            },
          ],
        });
      } catch (error) {
        // A concurrent write made a newer version; it has fresh keys already.
        if (error instanceof ConflictError) continue;
        throw error;
      }
      resealed += 1;
    }
    return resealed;
  }
}
