import { CID } from 'multiformats/cid';
import { parseScopes, scopesCoverReading } from '../auth/scopes.js';
import type { Logger } from '../logger.js';
import { boxKeyFingerprint, boxKeyProblem } from '../storage/box-key.js';
import type { ContentStore } from '../storage/content-store.js';
import type { GrantEntity } from '../storage/entities/index.js';
import type { KeyShareStore } from '../storage/key-share-store.js';
import { RecordKeySharer, listsRecipient, recipientsOf } from '../storage/envelope.js';
import type { NodeKeys } from '../storage/node-keys.js';

/**
 * Records handled per step: their envelopes read in one blockstore batch, their new copies written
 * in one durable batch (one fsync, not one per copy) while the next step is worked out. Each copy
 * costs a decrypt check and a wrap on the event loop (about 0.1 ms), so a step holds other requests
 * up ~10 ms at most.
 */
const STEP = 96;

/**
 * Wraps the record keys of a patient's existing records for a new grantee, so the grantee can open
 * them straight from IPFS with its own key. Records written after the grant include the grantee in
 * their envelope from the start (RecordService's granteeKeys hook).
 */
export class KeySharing {
  constructor(
    private readonly options: {
      store: KeyShareStore;
      content: ContentStore;
      keys: NodeKeys;
      logger: Logger;
    },
  ) {}

  /**
   * Returns how many copies were made; none when the grantee's key cannot receive wrapped keys. A
   * record the grantee can already open with this key (it is a recipient of the record's envelope,
   * or holds a copy made at an earlier grant) gets no new copy: a grant after a revoke without
   * reseal, or a second grant, costs reads, not a new envelope per record.
   */
  async shareWith(grant: GrantEntity, granteeBoxKey: Uint8Array): Promise<number> {
    const problem = boxKeyProblem(granteeBoxKey);
    if (problem) {
      // A legacy or chain-supplied key; the grant stands, but nothing could be wrapped for it safely.
      this.options.logger.warn('grantee box key is unusable; record keys are not shared with it', {
        grantId: grant.id,
        fingerprint: boxKeyFingerprint(granteeBoxKey),
        problem,
      });
      return 0;
    }
    const scopes = parseScopes(grant.scopes.split(' '));
    const rows = await this.options.store.candidates(grant.patient, grant.grantee);
    const covered = rows.filter((row) => scopesCoverReading(scopes, row.resourceType));
    const { content, keys, store } = this.options;
    const sharer = new RecordKeySharer(keys.boxSecretKey, granteeBoxKey);
    let shared = 0;
    let held = 0;
    // The previous step's copies being made durable and recorded, while this step reads and wraps.
    let writing: Promise<void> = Promise.resolve();
    try {
      for (let start = 0; start < covered.length; start += STEP) {
        const step = covered.slice(start, start + STEP);
        // A copy made at an earlier grant that this key opens: nothing to do for that record.
        const withCopy = step.filter((row) => row.shareCid !== null);
        const copies = await content.getMany(withCopy.map((row) => CID.parse(row.shareCid!)));
        const copied = new Set(withCopy.filter((_, i) => listsRecipient(copies[i], granteeBoxKey)));
        const rest = step.filter((row) => !copied.has(row));
        const envelopes = await content.getMany(rest.map((row) => CID.parse(row.cid)));
        const toShare = rest.flatMap((row, i) => {
          if (listsRecipient(envelopes[i], granteeBoxKey)) return [];
          const copy = sharer.copyFor(envelopes[i]);
          return copy ? [{ row, copy }] : [];
        });
        held += step.length - toShare.length;
        shared += toShare.length;
        await writing;
        if (toShare.length === 0) continue;
        writing = content.putMany(toShare.map((share) => share.copy)).then((cids) =>
          store.upsert(
            toShare.map(({ row }, i) => ({
              recordId: row.recordId,
              version: row.version,
              grantee: grant.grantee,
              cid: cids[i].toString(),
            })),
          ),
        );
        // Awaited at the next step or below; handled now so a failure meanwhile is not "unhandled".
        writing.catch(() => undefined);
      }
      await writing;
    } finally {
      // On a failure, nothing of this grant goes on writing after it answers.
      await writing.catch(() => undefined);
      sharer.dispose();
    }
    this.options.logger.debug('record keys shared with grantee', {
      grantId: grant.id,
      copies: shared,
      alreadyOpenable: held,
    });
    return shared;
  }

  /**
   * For each record version, in order: the CID of an envelope of it that `account` can open with its
   * own box key — the record's own when it is a recipient, else the copy made for it at grant time,
   * else null. One query for the shares of the whole list, one for the account's key if any version
   * has no share, then the headers of those envelopes read in parallel.
   */
  async envelopesFor(
    account: string,
    versions: readonly { recordId: string; version: number; cid: string }[],
  ): Promise<(string | null)[]> {
    if (versions.length === 0) return [];
    const key = (recordId: string, version: number) => `${recordId}:${version}`;
    const shared = await this.options.store.sharesFor(account, versions);
    if (versions.every((v) => shared.has(key(v.recordId, v.version)))) {
      return versions.map((v) => shared.get(key(v.recordId, v.version))!);
    }
    const holderKey = await this.options.store.boxPublicKeyOf(account);
    const boxKey = holderKey !== null ? Buffer.from(holderKey, 'base64') : undefined;
    return Promise.all(
      versions.map(async (v) => {
        const share = shared.get(key(v.recordId, v.version));
        if (share) return share;
        if (!boxKey) return null;
        const recipients = recipientsOf(await this.options.content.get(CID.parse(v.cid)));
        return recipients.some((recipient) => boxKey.equals(recipient)) ? v.cid : null;
      }),
    );
  }
}
