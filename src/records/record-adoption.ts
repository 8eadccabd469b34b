import { CID } from 'multiformats/cid';
import { IntegrityError, NotFoundError } from '../errors.js';
import type { BlockTime } from '../ledger/block-time.js';
import type { Ledger } from '../ledger/chain-client.js';
import { omnichartDomain } from '../ledger/typed-data.js';
import type { Logger } from '../logger.js';
import type { ContentStore } from '../storage/content-store.js';
import type { RecordQuarantineEntity } from '../storage/entities/index.js';
import type { NodeKeys } from '../storage/node-keys.js';
import type { RecordAdoptionStore } from '../storage/record-adoption-store.js';
import type { RecordWriter } from './record-writer.js';
import { patientReferencesOf } from './patient-references.js';
import { openPayload, type SealedPayload } from './sealed-payload.js';
import {
  authorSignatureProblem,
  continuityProblem,
  entitlementProblem,
  unsignedUpdateProblem,
  type GrantAtBlock,
  type VersionProblem,
} from './version-checks.js';

/** A version seen as a chain anchor, with the envelope fetched by its CID. */
export interface AnchoredVersion {
  envelope: Uint8Array;
  cid: string;
  /** Lower-case, as the anchor names it. */
  patient: string;
  recordId: string;
  version: number;
  anchorTx: string;
  anchorBlock: number;
}

/** What became of a version anchored elsewhere. */
export interface AdoptionOutcome {
  adopted: boolean;
  /** Set when the version was refused and kept in the quarantine. */
  quarantined?: VersionProblem;
}

export interface RecordAdoptionOptions {
  store: RecordAdoptionStore;
  content: ContentStore;
  ledger: Ledger;
  keys: NodeKeys;
  writer: RecordWriter;
  /** Unix time of a block: grants are judged at the anchor block's time on adoption. */
  blockTime?: BlockTime;
  /** Where refused versions from other nodes are reported. */
  logger?: Logger;
}

/**
 * Versions written at other nodes: checked like any write a node did not see (version-checks.ts),
 * then indexed through the {@link RecordWriter}'s transaction and publish steps, or quarantined.
 */
export class RecordAdoption {
  private readonly anchorSenders = new Map<string, string | null>();

  constructor(private readonly options: RecordAdoptionOptions) {}

  /**
   * Indexes a record version written at another node, seen as a chain anchor: the caller fetched the
   * envelope by the anchored CID and this node could open it. The version is served only when it
   * continues the record (see {@link continuityProblem}), its author was entitled at the anchor block
   * and any author signature holds; otherwise it is kept in the quarantine, not served. A version
   * held back for a gap is tried again once the version before it is adopted. Idempotent.
   * @throws IntegrityError when the envelope does not open with the node key
   */
  async adoptAnchoredVersion(params: AnchoredVersion): Promise<AdoptionOutcome> {
    const payload = openPayload(params.envelope, this.options.keys.boxSecretKey);
    const outcome = await this.adoptPayload(params, payload);
    if (outcome.quarantined) {
      this.options.logger?.warn('record version from another node quarantined', {
        recordId: params.recordId,
        version: params.version,
        cid: params.cid,
        reason: outcome.quarantined.reason,
        detail: outcome.quarantined.detail,
      });
    }
    if (outcome.adopted) await this.retryQuarantined(params.recordId, params.version + 1);
    return outcome;
  }

  /** Versions refused on adoption, newest first (what an operator looks at). */
  async quarantined(recordId?: string): Promise<RecordQuarantineEntity[]> {
    return this.options.store.quarantined(recordId);
  }

  private async adoptPayload(params: AnchoredVersion, payload: SealedPayload): Promise<AdoptionOutcome> {
    const { store, writer, ledger } = this.options;
    const resource = payload.resource;
    const author = typeof payload.author === 'string' ? payload.author.toLowerCase() : payload.patient;
    const quarantine = (problem: VersionProblem) => this.quarantine(params, author, problem);
    if (
      payload.recordId !== params.recordId ||
      payload.version !== params.version ||
      payload.patient !== params.patient ||
      typeof resource?.resourceType !== 'string'
    ) {
      return quarantine({
        reason: 'ANCHOR_MISMATCH',
        detail: `the envelope names ${payload.recordId} v${payload.version} of ${payload.patient}`,
      });
    }
    const held = await store.held(params.recordId, params.version);
    if (held?.sameVersionCid === params.cid) return { adopted: false };
    const hmac = writer.contentHmacOf(resource);
    const problem =
      continuityProblem(held, {
        patient: payload.patient,
        resourceType: resource.resourceType,
        version: payload.version,
        previousCid: payload.previousCid ?? null,
      }) ??
      (payload.authorSignature !== undefined
        ? authorSignatureProblem(omnichartDomain(ledger.chainId, ledger.contractAddress), {
            patient: payload.patient,
            recordId: payload.recordId,
            version: payload.version,
            resource,
            author,
            authorSignature: String(payload.authorSignature),
            bundleProof: payload.bundleProof,
          })
        : null) ??
      (await this.entitlement(author, payload.patient, resource.resourceType, params)) ??
      (held && payload.authorSignature === undefined
        ? unsignedUpdateProblem({
            sameContent: held.contentHmac === hmac,
            anchoredBy: await this.senderOf(params.anchorTx),
            // A first version not anchored yet was written here.
            home: held.homeTx ? await this.senderOf(held.homeTx) : ledger.relayerAddress.toLowerCase(),
          })
        : null);
    if (problem) return quarantine(problem);

    const adopted = await writer.commitAnchored({
      recordId: params.recordId,
      version: params.version,
      patient: params.patient,
      cid: params.cid,
      envelopeBytes: params.envelope.length,
      resource,
      author,
      contentHmac: hmac,
      previousCid: payload.previousCid ?? null,
      sourceKey: payload.sourceKey ?? null,
      fullUrl: payload.fullUrl ?? null,
      authorVerified: payload.authorSignature !== undefined,
      anchorTx: params.anchorTx,
      anchorBlock: params.anchorBlock,
      // Envelopes sealed before writtenAt existed are dated when adopted.
      writtenAt: validTime(payload.writtenAt) ?? new Date(),
      patientReferences: patientReferencesOf(resource),
    });
    return { adopted };
  }

  /** Which relayer sent an anchor transaction; remembered, since a batch anchors many versions. */
  private async senderOf(txHash: string): Promise<string | null> {
    const known = this.anchorSenders.get(txHash);
    if (known !== undefined) return known;
    const sender = await this.options.ledger.transactionSender(txHash);
    if (this.anchorSenders.size >= 10_000) this.anchorSenders.clear();
    this.anchorSenders.set(txHash, sender);
    return sender;
  }

  /** Whether the author held a right to write this version when it was anchored. */
  private async entitlement(
    author: string,
    patient: string,
    resourceType: string,
    params: AnchoredVersion,
  ): Promise<VersionProblem | null> {
    if (author === patient) return null;
    const grants: GrantAtBlock[] = await this.options.store.consentGrants(patient, author);
    const blockTime = this.options.blockTime
      ? await this.options.blockTime(params.anchorBlock)
      : // Without a block clock the head's time is used: later than the anchor, so only ever stricter.
        (await this.options.ledger.latestBlock()).timestamp;
    return entitlementProblem({
      author,
      patient,
      resourceType,
      version: params.version,
      anchorBlock: params.anchorBlock,
      blockTime,
      grants,
    });
  }

  private async quarantine(
    params: AnchoredVersion,
    author: string | null,
    problem: VersionProblem,
  ): Promise<AdoptionOutcome> {
    await this.options.store.quarantine({
      recordId: params.recordId,
      version: params.version,
      cid: params.cid,
      patient: params.patient,
      author: author && /^0x[0-9a-f]{40}$/.test(author) ? author : null,
      anchorTx: params.anchorTx,
      anchorBlock: params.anchorBlock,
      reason: problem.reason,
      detail: problem.detail.slice(0, 2_000),
    });
    return { adopted: false, quarantined: problem };
  }

  /** Versions held back because one before them was missing, tried again now that it is here. */
  private async retryQuarantined(recordId: string, version: number): Promise<void> {
    const waiting = await this.options.store.waitingFor(recordId, version);
    for (const row of waiting) {
      let envelope: Uint8Array;
      try {
        envelope = await this.options.content.get(CID.parse(row.cid));
      } catch (error) {
        if (error instanceof IntegrityError || error instanceof NotFoundError) continue;
        throw error;
      }
      const outcome = await this.adoptAnchoredVersion({
        envelope,
        cid: row.cid,
        patient: row.patient,
        recordId: row.recordId,
        version: row.version,
        anchorTx: row.anchorTx,
        anchorBlock: row.anchorBlock,
      });
      if (outcome.adopted) return;
    }
  }
}

/** A time an envelope claims, if it is one. */
function validTime(value: unknown): Date | null {
  if (typeof value !== 'string') return null;
  const time = new Date(value);
  return Number.isNaN(time.getTime()) ? null : time;
}
