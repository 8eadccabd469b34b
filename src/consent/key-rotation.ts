import { CID } from 'multiformats/cid';
import type { DataSource } from 'typeorm';
import type { RecordService, SealedPayload } from '../records/record-service.js';
import type { ContentStore } from '../storage/content-store.js';
import { AccountEntity, RecordEntity, RecordKeyShareEntity } from '../storage/entities/index.js';
import { recipientsOf, sealRecord } from '../storage/envelope.js';
import type { NodeKeys } from '../storage/node-keys.js';

export interface KeyRotationOptions {
  dataSource: DataSource;
  content: ContentStore;
  keys: NodeKeys;
  records: RecordService;
  /** Box keys of grantees whose active consent covers reading this type now. */
  granteeKeys: (patient: string, resourceType: string) => Promise<Uint8Array[]>;
  onRecordWritten?: () => void;
}

/**
 * Re-seals a patient's records after access ended: every current version whose key is held by
 * someone who may no longer read it (a revoked or expired grantee named in the envelope, or given a
 * copy) gets a new version under a fresh key wrapped only for the patient, the node and the grantees
 * whose consent still covers it. Old versions stay as they were: what was shared stays shared.
 */
export class KeyRotation {
  constructor(private readonly options: KeyRotationOptions) {}

  /** Returns how many records got a new version. */
  async resealPatient(patient: string): Promise<number> {
    const { dataSource, content, keys, records } = this.options;
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
        const grantees = await this.options.granteeKeys(patient, row.resource_type);
        allowed = new Set(
          [patientKey, keys.boxPublicKey, ...grantees].map((k) => Buffer.from(k).toString('base64')),
        );
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
      const writtenAt = new Date();
      const payload: SealedPayload = {
        recordId: row.id,
        version: row.current_version + 1,
        patient,
        resource,
        previousCid: row.cid,
        writtenAt: writtenAt.toISOString(),
      };
      const sealed = sealRecord({
        plaintext: Buffer.from(JSON.stringify(payload)),
        recipients: [...allowed].map((k) => ({ boxPublicKey: new Uint8Array(Buffer.from(k, 'base64')) })),
      });
      const cid = (await content.put(sealed)).toString();
      await dataSource.transaction(async (tx) => {
        const moved = await tx.query(
          `UPDATE record SET current_version = $2, updated_at = $4 WHERE id = $1 AND current_version = $3`,
          [row.id, payload.version, row.current_version, writtenAt],
        );
        if (moved[1] !== 1) return; // a concurrent write made a newer version; it has fresh keys already
        await tx.query(
          `INSERT INTO record_version (record_id, version, cid, envelope_bytes, author, content_hmac, previous_cid,
                                       created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [row.id, payload.version, cid, sealed.length, patient, row.content_hmac, row.cid, writtenAt],
        );
        await tx.query(
          `INSERT INTO anchor_outbox (record_id, version, patient, cid) VALUES ($1, $2, $3, $4)`,
          [row.id, payload.version, patient, cid],
        );
        await tx.delete(RecordKeyShareEntity, { recordId: row.id });
      });
      resealed += 1;
    }
    if (resealed > 0) this.options.onRecordWritten?.();
    return resealed;
  }
}
