import { CID } from 'multiformats/cid';
import { ConflictError } from '../errors.js';
import type { RecordService } from '../records/record-service.js';
import type { ContentStore } from '../storage/content-store.js';
import { recipientsOf } from '../storage/envelope.js';
import type { GrantStore } from '../storage/grant-store.js';
import type { KeyShareStore } from '../storage/key-share-store.js';
import type { RecordStore } from '../storage/record-store.js';

export interface KeyRotationOptions {
  store: RecordStore;
  /** The chart's active consent grants: whom a new key is wrapped for besides the patient and nodes. */
  grants: Pick<GrantStore, 'activeConsentKeys'>;
  shares: KeyShareStore;
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
    const { store, grants, shares: shareStore, content, records } = this.options;
    const { writer } = records;
    const patientBoxKey = await shareStore.boxPublicKeyOf(patient);
    if (patientBoxKey === null) throw new Error(`no account is registered for ${patient}`);
    const patientKey = new Uint8Array(Buffer.from(patientBoxKey, 'base64'));
    const current = await store.currentRecordsOf(patient);
    // Copies of current versions made for grantees at grant time, with the key each was made for.
    const sharesByRecord = new Map<string, string[]>();
    for (const share of await shareStore.currentSharesOf(patient)) {
      sharesByRecord.set(share.recordId, [...(sharesByRecord.get(share.recordId) ?? []), share.boxPublicKey]);
    }
    // Who may keep a record's key: the same recipients the writer wraps a new key for, as the grants
    // stand now (each write below reads them again, so a grant made meanwhile is wrapped in too).
    const recipients = await writer.recipientsFor(
      patientKey,
      current.map(({ record }) => record.resourceType),
      await grants.activeConsentKeys(patient),
    );
    const allowedByType = new Map(
      [...recipients].map(([type, keys]) => [
        type,
        new Set(keys.map((k) => Buffer.from(k).toString('base64'))),
      ]),
    );
    let resealed = 0;
    for (const { record, cid, contentHmac } of current) {
      const allowed = allowedByType.get(record.resourceType)!;
      const envelope = await content.get(CID.parse(cid));
      const holders = [
        ...recipientsOf(envelope).map((k) => Buffer.from(k).toString('base64')),
        ...(sharesByRecord.get(record.id) ?? []),
      ];
      if (holders.every((k) => allowed.has(k))) continue;

      const resource = await records.readResource(record);
      try {
        await writer.write({
          patient,
          author: patient,
          patientBoxKey: patientKey,
          consents: await grants.activeConsentKeys(patient),
          dropKeyShares: true,
          versions: [
            {
              recordId: record.id,
              version: record.currentVersion + 1,
              resource,
              previousCid: cid,
              contentHmac: contentHmac ?? writer.contentHmacOf(resource),
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
