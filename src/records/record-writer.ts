import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Resource } from '@medplum/fhirtypes';
import type { CID } from 'multiformats/cid';
import type { ContentStore } from '../storage/content-store.js';
import type { RecordEntity, RecordVersionEntity } from '../storage/entities/index.js';
import { RecordSealer } from '../storage/envelope.js';
import type { ActiveConsentKey } from '../storage/grant-store.js';
import type { NodeKeys } from '../storage/node-keys.js';
import type { RecordWriteStore, VersionRowInput } from '../storage/record-write-store.js';
import { contentHmac, deriveContentHmacKey } from './content-hmac.js';
import type { RecordEvents } from './record-events.js';
import { recordMetadataOf } from './record-metadata.js';
import type { SealedPayload } from './sealed-payload.js';
import type { StageTimer } from './stage-timer.js';

/*
 * The only code that creates record versions. Every path (addRecord, importBundle, key rotation,
 * adoption from peers) hands it versions it has planned, and it does the rest the same way for all:
 * seal → put the envelopes → one transaction for records, versions and outbox rows → tell
 * subscribers → wake the anchor queue. Adoption brings a version already sealed and anchored
 * elsewhere, so it enters at the transaction step ({@link RecordWriter.commitAnchored}).
 */

/** Envelopes sealed before their blocks are handed to the content store (see `write`). */
const SEAL_CHUNK = 50;

/** One version to seal and write, as a path planned it. */
export interface NewVersion {
  recordId: string;
  /** 1 creates the record; n continues version n − 1 (the write fails if another write got there first). */
  version: number;
  resource: Resource;
  /** The CID of the version this one replaces; null for version 1. */
  previousCid: string | null;
  /** See {@link RecordWriter.contentHmacOf}. */
  contentHmac: string;
  /** The source's identity of the resource (type-scoped id or fullUrl), kept in the envelope too. */
  sourceKey: string | null;
  fullUrl: string | null;
  /** Used when the resource carries no clinical date (default: now). */
  effectiveAtFallback?: Date;
  /** The author's signature, carried in the envelope; the version is then `authorVerified`. */
  signed?: Pick<SealedPayload, 'authorSignature' | 'bundleProof'>;
}

/** Versions of one patient's chart written by one author in one transaction. */
export interface VersionBatch {
  patient: string;
  /** Who writes them: the caller, or the patient for a re-seal made on the patient's behalf. */
  author: string;
  /** The patient's box public key: the record key is always wrapped for the patient. */
  patientBoxKey: Uint8Array;
  /**
   * The chart's active consent grants as the write's lookup found them (key rotation reads them
   * itself): the grantees among them whose scopes cover a version's type get its record key.
   */
  consents: readonly ActiveConsentKey[];
  versions: readonly NewVersion[];
  /** The source's references to this patient, linked to the chart as aliases. */
  patientReferences?: readonly string[];
  /** A re-seal also drops the key copies made for grantees at grant time. */
  dropKeyShares?: boolean;
}

/** A version sealed and anchored elsewhere, checked by adoption, to index here. */
export interface AnchoredVersionRow {
  recordId: string;
  version: number;
  patient: string;
  cid: string;
  envelopeBytes: number;
  resource: Resource;
  author: string;
  contentHmac: string;
  previousCid: string | null;
  sourceKey: string | null;
  fullUrl: string | null;
  authorVerified: boolean;
  anchorTx: string;
  anchorBlock: number;
  /** When it was written (sealed in the envelope); the record's and version's times. */
  writtenAt: Date;
  /** The source's references to this patient, linked to the chart as a write links them. */
  patientReferences: readonly string[];
}

/** Per resource type, the box keys of recipients other than the patient and this node. */
export type GranteeKeys = (
  resourceTypes: readonly string[],
  consents: readonly ActiveConsentKey[],
) => Promise<Map<string, Uint8Array[]>>;

export interface RecordWriterOptions {
  store: RecordWriteStore;
  content: ContentStore;
  keys: NodeKeys;
  events: RecordEvents;
  timer: StageTimer;
  /**
   * Box public keys of other recipients of new records of each type (other nodes, and the grantees
   * among `consents` whose scopes cover the type).
   */
  granteeKeys?: GranteeKeys;
  /** Told after each commit of versions to anchor, so the anchor queue need not poll. */
  onRecordWritten?: () => void;
}

export class RecordWriter {
  private readonly hmacKey: Buffer;
  /**
   * The version row each record this writer returned was written with, kept as long as that object
   * is (a request's answer): what the reply to a write reads instead of querying it back. A version
   * row never changes but for its anchor, so the reply shows the version as it was written.
   */
  private readonly writtenVersions = new WeakMap<RecordEntity, RecordVersionEntity>();

  constructor(private readonly options: RecordWriterOptions) {
    this.hmacKey = deriveContentHmacKey(options.keys.boxSecretKey);
  }

  /** The node's keyed hash of a resource: how a re-write of the same content is told apart. */
  contentHmacOf(resource: Resource): string {
    return contentHmac(this.hmacKey, resource);
  }

  /** Whom a new record key of each type is wrapped for: the patient, this node, then the others. */
  async recipientsFor(
    patientBoxKey: Uint8Array,
    resourceTypes: Iterable<string>,
    consents: readonly ActiveConsentKey[],
  ): Promise<Map<string, Uint8Array[]>> {
    const types = [...new Set(resourceTypes)];
    const { keys, granteeKeys } = this.options;
    const others = await granteeKeys?.(types, consents);
    return new Map(
      types.map((type) => [type, [patientBoxKey, keys.boxPublicKey, ...(others?.get(type) ?? [])]]),
    );
  }

  /**
   * Seals the versions, puts their envelopes, then writes records, versions, aliases and anchor
   * outbox rows in one statement, tells subscribers and wakes the anchor queue. Answers the records
   * as written.
   * @throws ConflictError (`CONCURRENT_WRITE`) when a concurrent write made one of these versions first
   */
  async write(batch: VersionBatch): Promise<RecordEntity[]> {
    const { versions } = batch;
    if (versions.length === 0) return [];
    const { store, timer } = this.options;
    const recipients = await this.recipientsFor(
      batch.patientBoxKey,
      versions.map((v) => v.resource.resourceType),
      batch.consents,
    );
    const now = new Date();
    const { envelopes, cids } = await this.sealAndPut(batch, recipients, now);

    const rows = versions.map((v, i): VersionRowInput => {
      const meta = recordMetadataOf(v.resource);
      return {
        id: v.recordId,
        version: v.version,
        resource_type: v.resource.resourceType,
        source_id: typeof v.resource.id === 'string' ? v.resource.id.slice(0, 128) : null,
        source_key: v.sourceKey,
        full_url: v.fullUrl,
        effective_at: (meta.effectiveAt ?? v.effectiveAtFallback ?? now).toISOString(),
        codes: meta.codes,
        status: meta.status,
        cid: cids[i],
        envelope_bytes: envelopes[i].length,
        content_hmac: v.contentHmac,
        previous_cid: v.previousCid,
        author_verified: v.signed !== undefined,
        written_at: now.toISOString(),
      };
    });
    const written = await timer.timeAsync('postgres', () =>
      store.writeVersions({
        patient: batch.patient,
        author: batch.author,
        rows,
        patientReferences: batch.patientReferences ?? [],
        dropKeyShares: batch.dropKeyShares === true,
      }),
    );
    const records = written.map(({ record, version }) => {
      this.writtenVersions.set(record, version);
      return record;
    });
    this.options.onRecordWritten?.();
    this.options.events.publish(records);
    return records;
  }

  /** The version row `record` (an object this writer returned) was written with, if it is current. */
  versionWritten(record: RecordEntity): RecordVersionEntity | undefined {
    const version = this.writtenVersions.get(record);
    return version?.version === record.currentVersion ? version : undefined;
  }

  /**
   * The transaction and publish steps for a version sealed and anchored elsewhere: the version row
   * (anchored already, so no outbox row), the record moved to it, the quarantine entry cleared.
   * Answers false when it was already held or the record moved on meanwhile (nothing written).
   */
  async commitAnchored(version: AnchoredVersionRow): Promise<boolean> {
    const meta = recordMetadataOf(version.resource);
    const record = await this.options.store.commitAnchored({
      recordId: version.recordId,
      version: version.version,
      patient: version.patient,
      resourceType: version.resource.resourceType,
      sourceId: typeof version.resource.id === 'string' ? version.resource.id.slice(0, 128) : null,
      sourceKey: version.sourceKey,
      fullUrl: version.fullUrl,
      cid: version.cid,
      envelopeBytes: version.envelopeBytes,
      author: version.author,
      contentHmac: version.contentHmac,
      previousCid: version.previousCid,
      authorVerified: version.authorVerified,
      anchorTx: version.anchorTx,
      anchorBlock: version.anchorBlock,
      effectiveAt: meta.effectiveAt ?? version.writtenAt,
      codes: meta.codes,
      status: meta.status,
      writtenAt: version.writtenAt,
      patientReferences: version.patientReferences,
    });
    if (record) this.options.events.publish([record]);
    return record !== null;
  }

  /**
   * Sealed in chunks, each handed to the content store at once: its block writes and fsyncs run on
   * libuv's thread pool while the next chunk is sealed on this thread. Every block is durable before
   * the statement that refers to it runs. Stages: 'seal' is the sealing time, 'ipfsAdd' the wait for
   * the remaining writes once the last chunk is sealed.
   */
  private async sealAndPut(
    batch: VersionBatch,
    recipients: Map<string, Uint8Array[]>,
    writtenAt: Date,
  ): Promise<{ envelopes: Uint8Array[]; cids: string[] }> {
    const { content, timer } = this.options;
    // The node's own copy is a secretbox wrap (envelope v2): reading it needs no X25519 agreement.
    const sealer = new RecordSealer({ selfSecretKey: this.options.keys.boxSecretKey });
    const seal = (v: NewVersion): Uint8Array => {
      const payload: SealedPayload = {
        recordId: v.recordId,
        version: v.version,
        patient: batch.patient,
        resource: v.resource,
        ...(v.previousCid ? { previousCid: v.previousCid } : {}),
        author: batch.author,
        ...(v.sourceKey ? { sourceKey: v.sourceKey } : {}),
        ...(v.fullUrl ? { fullUrl: v.fullUrl } : {}),
        ...v.signed,
        writtenAt: writtenAt.toISOString(),
      };
      return sealer.seal({
        plaintext: Buffer.from(JSON.stringify(payload)),
        recipients: recipients.get(v.resource.resourceType)!.map((boxPublicKey) => ({ boxPublicKey })),
      });
    };
    const envelopes: Uint8Array[] = [];
    const writes: Promise<CID[]>[] = [];
    let sealMs = 0;
    try {
      for (let start = 0; start < batch.versions.length; start += SEAL_CHUNK) {
        const sealStart = performance.now();
        const chunk = batch.versions.slice(start, start + SEAL_CHUNK).map(seal);
        sealMs += performance.now() - sealStart;
        envelopes.push(...chunk);
        const written = content.putMany(chunk);
        // Awaited below; this only keeps a failure that comes before then from counting as unhandled.
        written.catch(() => undefined);
        writes.push(written);
        if (start + SEAL_CHUNK < batch.versions.length) await yieldToEventLoop();
      }
    } finally {
      sealer.dispose();
      if (timer.enabled) timer.add('seal', sealMs);
    }
    const cids = await timer.timeAsync('ipfsAdd', async () =>
      (await Promise.all(writes)).flat().map((cid) => cid.toString()),
    );
    return { envelopes, cids };
  }
}
