import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Resource } from '@medplum/fhirtypes';
import { CID } from 'multiformats/cid';
import { In, type DataSource } from 'typeorm';
import type { Caller } from '../auth/caller.js';
import type { Policy } from '../auth/policy.js';
import {
  BadUserInputError,
  ConflictError,
  ForbiddenError,
  IntegrityError,
  NotFoundError,
} from '../errors.js';
import type { Ledger } from '../ledger/chain-client.js';
import type { BlockTime } from '../ledger/block-time.js';
import { bytes16ToUuid } from '../ledger/ids.js';
import type { OmnichartDomain } from '../ledger/ledger-types.js';
import {
  bundleImportTypedData,
  entriesRoot,
  entryProof,
  recordVersionLeaf,
  recordVersionMessage,
  recordVersionTypedData,
  typedDataSigner,
  type BundleEntryProof,
  type BundleImportTypedData,
  type RecordVersionTypedData,
} from '../ledger/record-typed-data.js';
import { omnichartDomain } from '../ledger/typed-data.js';
import type { Logger } from '../logger.js';
import type { ContentStore } from '../storage/content-store.js';
import { RecordEntity, RecordQuarantineEntity, RecordVersionEntity } from '../storage/entities/index.js';
import { openRecord, RecordSealer } from '../storage/envelope.js';
import { cidOf } from '../storage/helia-content-store.js';
import { isUuid } from '../uuid.js';
import type { NodeKeys } from '../storage/node-keys.js';
import { checksumAddress, normalizeAddress } from '../auth/address.js';
import { planBundle, referencesOf, type EntryRejection, type PlannedEntry } from './bundle.js';
import { contentHmac, deriveContentHmacKey } from './content-hmac.js';
import { parseFhirResource, patientReferencesOf } from './fhir-validation.js';
import type { DecryptionBudget } from './decryption-budget.js';
import { recordMetadataOf } from './record-metadata.js';
import { RecordEvents } from './record-events.js';
import { StageTimer } from './stage-timer.js';
import {
  authorSignatureProblem,
  continuityProblem,
  entitlementProblem,
  unsignedUpdateProblem,
  type GrantAtBlock,
  type HeldVersion,
  type VersionProblem,
} from './version-checks.js';

/** Entries one importBundle may carry unless the node is configured otherwise. */
export const DEFAULT_MAX_BUNDLE_ENTRIES = 5_000;
/** Envelopes sealed before their blocks are handed to the content store (see `write`). */
const SEAL_CHUNK = 50;

/** What is sealed inside an envelope: the resource plus the identity it was stored under. */
export interface SealedPayload {
  recordId: string;
  version: number;
  patient: string;
  resource: Resource;
  /** The CID of the version this one replaces; absent in version 1. */
  previousCid?: string;
  /** Who wrote it, and the source's identity of the resource: what another node needs to index it. */
  author?: string;
  sourceKey?: string;
  fullUrl?: string;
  /** The author's EIP-712 signature (RecordVersion, or BundleImport with `bundleProof`), when they signed. */
  authorSignature?: string;
  bundleProof?: BundleEntryProof;
}

/** What a client may send along with a write to sign it (see recordTypedData / bundleTypedData). */
export interface AddRecordSigning {
  /** The record id the signature names (UUID or bytes16 hex), as recordTypedData answered it. */
  recordId?: string;
  authorSignature?: string;
}

export interface ImportBundleSigning {
  /** Record ids by Bundle entry position, as bundleTypedData answered them. */
  recordIds?: readonly (string | null)[];
  authorSignature?: string;
}

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

export type ImportOutcome = 'CREATED' | 'UPDATED' | 'UNCHANGED' | 'REJECTED';

/** What happened to one Bundle entry. */
export interface ImportEntryResult {
  index: number;
  fullUrl: string | null;
  resourceType: string | null;
  /** The stored record the entry is (also for UNCHANGED); null when rejected. */
  recordId: string | null;
  version: number | null;
  outcome: ImportOutcome;
  /** Stable reason code when rejected. */
  code: EntryRejection | null;
  reason: string | null;
}

export interface ImportResult {
  created: number;
  updated: number;
  unchanged: number;
  rejected: number;
  /** False when the Bundle was refused as a whole: nothing of it was written. */
  written: boolean;
  entries: ImportEntryResult[];
}

interface WriteItem {
  index: number;
  resource: Resource;
  fullUrl: string | null;
  sourceKey: string | null;
  patientReferences: string[];
  /** The record id the client expects (it signed it); checked against what the write resolves. */
  recordId?: string;
}

/** The author signature of one write, checked against the versions the write resolved. */
type WriteSigning = { kind: 'record' | 'bundle'; signature: string };

interface WritePlan {
  account: { role: string; box_public_key: string };
  results: WriteResult[];
  records: Map<string, RecordEntity>;
  toWrite: { item: WriteItem; result: WriteResult; hmac: string; previousCid: string | null }[];
}

interface WriteResult {
  index: number;
  resourceType: string;
  outcome: ImportOutcome;
  recordId: string | null;
  version: number | null;
  code?: EntryRejection;
  reason?: string;
  reference?: string;
}

/** Which current records of a chart to find by their metadata (see {@link RecordService.openChart}). */
export interface ChartQuery {
  resourceType: string;
  /** `system|code`: records carrying any of them (absent: every record of the type). */
  codes?: readonly string[];
  /** Only records whose clinical time is at or before this. */
  until?: Date;
  /** Leave out records with these statuses. */
  excludeStatus?: readonly string[];
}

/** A record `find` answered: its id and clinical time (what the lists are ordered by, then the id). */
export interface ChartEntry {
  id: string;
  effectiveAt: Date;
}

/** One authorized read of a chart: metadata lookups for free, decryption on demand. */
export interface ChartRead {
  /** For each query, the matching current records, newest first (clinical time, then id, descending). */
  find(queries: readonly ChartQuery[]): Promise<ChartEntry[][]>;
  /** The current resources of entries `find` answered, in order, decrypted and charged to the budget. */
  read(entries: readonly ChartEntry[]): Promise<Resource[]>;
}

/** A reference in a resource and the stored record it denotes in the same source's data, if any. */
export interface ResolvedReference {
  reference: string;
  recordId: string | null;
}

export interface RecordProof {
  recordId: string;
  version: number;
  cid: string;
  /** The stored bytes hash to the CID. */
  contentMatchesCid: boolean;
  /** The envelope authenticates and opens with the node key. */
  decrypts: boolean;
  anchorTx: string | null;
  anchorBlock: number | null;
  /** The CID the chain event carries, when anchored. */
  chainCid: string | null;
  anchorMatches: boolean;
  verified: boolean;
}

export interface RecordServiceOptions {
  dataSource: DataSource;
  content: ContentStore;
  ledger: Ledger;
  keys: NodeKeys;
  policy: Policy;
  limits: { maxResourceBytes: number; maxJsonDepth: number };
  /**
   * Box public keys of grantees whose grants cover new records of this type (consent work fills it);
   * the record key is wrapped for them besides the patient and the node.
   */
  granteeKeys?: (patient: string, resourceType: string) => Promise<Uint8Array[]>;
  /** Entries one importBundle may carry; default {@link DEFAULT_MAX_BUNDLE_ENTRIES}. */
  maxBundleEntries?: number;
  /** Where new record versions are announced (subscriptions); one is made when absent. */
  events?: RecordEvents;
  /** Told after each commit so the anchor queue need not poll. */
  onRecordWritten?: () => void;
  timer?: StageTimer;
  /** Unix time of a block: grants are judged at the anchor block's time on adoption. */
  blockTime?: BlockTime;
  /** Where refused versions from other nodes are reported. */
  logger?: Logger;
}

/** Writes and reads encrypted FHIR records through all four stores. */
export class RecordService {
  readonly timer: StageTimer;
  /** Every new record version, from every write path; the chain indexer publishes here too. */
  readonly events: RecordEvents;
  private readonly hmacKey: Buffer;
  private readonly anchorSenders = new Map<string, string | null>();

  constructor(private readonly options: RecordServiceOptions) {
    this.timer = options.timer ?? new StageTimer();
    this.events = options.events ?? new RecordEvents();
    this.hmacKey = deriveContentHmacKey(options.keys.boxSecretKey);
  }

  /**
   * Stores one resource. With `authorSignature` the caller's EIP-712 RecordVersion signature (from
   * {@link recordTypedData}) must cover exactly the version this write makes, or nothing is written.
   */
  async addRecord(
    caller: Caller,
    patientInput: string,
    resourceInput: unknown,
    signing: AddRecordSigning = {},
  ): Promise<RecordEntity> {
    const patient = normalizeAddress(patientInput, 'patient');
    const item = this.singleItem(resourceInput, signing.recordId);
    const signature = signing.authorSignature;
    const { results, records } = await this.write(
      caller,
      patient,
      [item],
      signature !== undefined && signature !== null ? { kind: 'record', signature } : undefined,
    );
    const [result] = results;
    if (result.outcome === 'REJECTED') throw rejectionError(result);
    return records.get(result.recordId!)!;
  }

  /**
   * The EIP-712 RecordVersion a client signs before `addRecord(patient, resource, recordId, signature)`:
   * the record id and version the write will resolve to (a fresh id for a new record).
   */
  async recordTypedData(
    caller: Caller,
    patientInput: string,
    resourceInput: unknown,
    recordId?: string | null,
  ): Promise<RecordVersionTypedData> {
    const patient = normalizeAddress(patientInput, 'patient');
    const item = this.singleItem(resourceInput, recordId ?? undefined);
    const { results } = await this.plan(caller, patient, [item]);
    const [result] = results;
    if (result.outcome === 'REJECTED') throw rejectionError(result);
    return recordVersionTypedData(
      this.domain(),
      recordVersionMessage({
        patient,
        recordId: result.recordId!,
        version: result.version!,
        resource: item.resource,
      }),
    );
  }

  /**
   * The EIP-712 BundleImport a client signs before `importBundle(patient, bundle, recordIds, signature)`,
   * and the record id each entry will be stored under (send them back as `recordIds`).
   */
  async bundleTypedData(
    caller: Caller,
    patientInput: string,
    bundleInput: unknown,
  ): Promise<{ typedData: BundleImportTypedData; recordIds: string[] }> {
    const patient = normalizeAddress(patientInput, 'patient');
    const { plan, items } = await this.planBundleItems(bundleInput);
    if (plan.entries.some((e) => e.rejection)) {
      throw new BadUserInputError(
        'the Bundle has entries importBundle would reject; import it unsigned to see which',
      );
    }
    const { results } = await this.plan(caller, patient, items);
    const rejected = results.find((r) => r.outcome === 'REJECTED');
    if (rejected) throw rejectionError(rejected);
    const leaves = items.map((item, i) => this.leafOf(patient, item, results[i]));
    return {
      typedData: bundleImportTypedData(this.domain(), {
        patient: checksumAddress(patient),
        entriesRoot: entriesRoot(leaves),
        entryCount: leaves.length,
      }),
      recordIds: results.map((r) => r.recordId!),
    };
  }

  /**
   * Imports a FHIR R4 transaction or collection Bundle into a patient's chart: one record per
   * resource, a new version for each changed one, nothing for unchanged ones. All or nothing: when any
   * entry is rejected, nothing is written and every entry says why (see {@link planBundle}).
   * @throws BadUserInputError when the Bundle as a whole is not importable (not a Bundle, too many entries)
   */
  async importBundle(
    caller: Caller,
    patientInput: string,
    bundleInput: unknown,
    signing: ImportBundleSigning = {},
  ): Promise<ImportResult> {
    const patient = normalizeAddress(patientInput, 'patient');
    const { plan, items } = await this.planBundleItems(bundleInput, signing.recordIds);
    const invalid = plan.entries.filter((e) => e.rejection);
    if (invalid.length > 0) {
      // Authorize anyway, so a caller without access learns nothing about the chart from the answer.
      await this.authorizeTypes(
        caller,
        patient,
        'create',
        plan.entries.map((e) => e.resourceType),
      );
      return summarize(plan.entries, new Map(), false);
    }
    const signature = signing.authorSignature;
    const { results, written } = await this.write(
      caller,
      patient,
      items,
      signature !== undefined && signature !== null ? { kind: 'bundle', signature } : undefined,
    );
    return summarize(plan.entries, new Map(results.map((r) => [r.index, r])), written);
  }

  /** A Bundle's entries as write items (entries that are not importable carry no item). */
  private async planBundleItems(
    bundleInput: unknown,
    recordIds?: readonly (string | null)[],
  ): Promise<{ plan: Awaited<ReturnType<typeof planBundle>>; items: WriteItem[] }> {
    const plan = await this.timer.timeAsync('validate', () =>
      planBundle(bundleInput, {
        limits: this.options.limits,
        maxEntries: this.options.maxBundleEntries ?? DEFAULT_MAX_BUNDLE_ENTRIES,
      }),
    );
    const items: WriteItem[] = [];
    for (const entry of plan.entries) {
      if (!entry.resource) continue;
      items.push({
        index: entry.index,
        resource: entry.resource,
        fullUrl: entry.fullUrl,
        sourceKey: entry.sourceKey,
        patientReferences: patientReferencesOf(entry.resource, { patientFullUrls: plan.patientFullUrls }),
        recordId: recordIdHint(recordIds?.[entry.index], `recordIds[${entry.index}]`),
      });
    }
    return { plan, items };
  }

  private singleItem(resourceInput: unknown, recordId: string | undefined): WriteItem {
    const resource = this.timer.time('validate', () => parseFhirResource(resourceInput, this.options.limits));
    const id = typeof resource.id === 'string' && resource.id !== '' ? resource.id : null;
    return {
      index: 0,
      resource,
      fullUrl: null,
      sourceKey: id,
      patientReferences: patientReferencesOf(resource),
      recordId: recordIdHint(recordId, 'recordId'),
    };
  }

  private domain(): OmnichartDomain {
    return omnichartDomain(this.options.ledger.chainId, this.options.ledger.contractAddress);
  }

  private leafOf(patient: string, item: WriteItem, result: WriteResult): string {
    return recordVersionLeaf(
      recordVersionMessage({
        patient,
        recordId: result.recordId!,
        version: result.version!,
        resource: item.resource,
      }),
    );
  }

  /**
   * The write path shared by addRecord and importBundle: classify each item against the stored
   * identities (new, changed, unchanged), seal and add the new versions to IPFS, then one SQL statement
   * writes records, versions, aliases and anchor outbox rows. Nothing is written if any item is refused.
   */
  private async write(
    caller: Caller,
    patient: string,
    items: WriteItem[],
    signing?: WriteSigning,
  ): Promise<{ results: WriteResult[]; records: Map<string, RecordEntity>; written: boolean }> {
    const { dataSource, content, keys, onRecordWritten } = this.options;
    const timer = this.timer;
    const { account, results, records, toWrite } = await this.plan(caller, patient, items);
    if (results.some((r) => r.outcome === 'REJECTED')) return { results, records, written: false };
    const signed = signing ? this.checkSigning(caller, patient, items, results, signing) : undefined;
    if (toWrite.length === 0) return { results, records, written: true };

    const patientKey = new Uint8Array(Buffer.from(account.box_public_key, 'base64'));
    const types = [...new Set(toWrite.map((w) => w.item.resource.resourceType))];
    const granteeKeys = new Map(
      await Promise.all(
        types.map(async (type) => [type, (await this.options.granteeKeys?.(patient, type)) ?? []] as const),
      ),
    );
    const sealer = new RecordSealer();
    const seal = ({ item, result, previousCid }: (typeof toWrite)[number]): Uint8Array => {
      const payload: SealedPayload = {
        recordId: result.recordId!,
        version: result.version!,
        patient,
        resource: item.resource,
        ...(previousCid ? { previousCid } : {}),
        author: caller.address,
        ...(item.sourceKey ? { sourceKey: item.sourceKey } : {}),
        ...(item.fullUrl ? { fullUrl: item.fullUrl } : {}),
        ...signed?.get(item),
      };
      return sealer.seal({
        plaintext: Buffer.from(JSON.stringify(payload)),
        recipients: [
          { boxPublicKey: patientKey },
          { boxPublicKey: keys.boxPublicKey },
          ...granteeKeys.get(item.resource.resourceType)!.map((boxPublicKey) => ({ boxPublicKey })),
        ],
      });
    };
    // Sealed in chunks, each handed to the content store at once: its block writes and fsyncs run on
    // libuv's thread pool while the next chunk is sealed on this thread. Every block is durable
    // before the Postgres statement below refers to it. Stages: 'seal' is the sealing time,
    // 'ipfsAdd' the wait for the remaining writes once the last chunk is sealed.
    const envelopes: Uint8Array[] = [];
    const writes: Promise<CID[]>[] = [];
    let sealMs = 0;
    try {
      for (let start = 0; start < toWrite.length; start += SEAL_CHUNK) {
        const sealStart = performance.now();
        const chunk = toWrite.slice(start, start + SEAL_CHUNK).map(seal);
        sealMs += performance.now() - sealStart;
        envelopes.push(...chunk);
        const written = content.putMany(chunk);
        // Awaited below; this only keeps a failure that comes before then from counting as unhandled.
        written.catch(() => undefined);
        writes.push(written);
        if (start + SEAL_CHUNK < toWrite.length) await yieldToEventLoop();
      }
    } finally {
      sealer.dispose();
      if (timer.enabled) timer.add('seal', sealMs);
    }
    const cids = await timer.timeAsync('ipfsAdd', async () =>
      (await Promise.all(writes)).flat().map((cid) => cid.toString()),
    );

    const now = new Date();
    const rows = toWrite.map(({ item, result, hmac, previousCid }, i) => {
      const meta = recordMetadataOf(item.resource);
      return {
        id: result.recordId,
        version: result.version,
        resource_type: item.resource.resourceType,
        source_id: typeof item.resource.id === 'string' ? item.resource.id.slice(0, 128) : null,
        source_key: item.sourceKey,
        full_url: item.fullUrl,
        effective_at: (meta.effectiveAt ?? now).toISOString(),
        codes: meta.codes,
        status: meta.status,
        cid: cids[i],
        envelope_bytes: envelopes[i].length,
        content_hmac: hmac,
        previous_cid: previousCid,
        author_verified: signed !== undefined,
      };
    });
    let writtenRows: Record<string, unknown>[];
    try {
      writtenRows = await timer.timeAsync('postgres', () =>
        dataSource.query(WRITE_SQL, [
          JSON.stringify(rows),
          caller.address,
          patient,
          [...new Set(toWrite.flatMap((w) => w.item.patientReferences))],
        ]),
      );
    } catch (error) {
      if ((error as { code?: string }).code === '23505') {
        throw new ConflictError('a concurrent write changed the same records; send it again', {
          reason: 'CONCURRENT_WRITE',
        });
      }
      throw error;
    }
    const written = writtenRows.map(recordFromRow);
    for (const record of written) records.set(record.id, record);
    onRecordWritten?.();
    this.events.publish(written);
    return { results, records, written: true };
  }

  /**
   * Authorizes a write and resolves each item against the stored identities (new, changed,
   * unchanged) into the record id and version it will be, without writing anything: what a write
   * does first, and what a client signs.
   */
  private async plan(caller: Caller, patient: string, items: WriteItem[]): Promise<WritePlan> {
    const { dataSource } = this.options;
    const timer = this.timer;
    await this.authorizeTypes(
      caller,
      patient,
      'create',
      items.map((i) => i.resource.resourceType),
    );

    const hmacs = timer.time('hash', () => items.map((i) => contentHmac(this.hmacKey, i.resource)));
    const withKey = items.filter((i) => i.sourceKey !== null);
    const references = [...new Set(items.flatMap((i) => i.patientReferences))];
    const [lookup] = await timer.timeAsync('postgresRead', () =>
      dataSource.query(LOOKUP_SQL, [
        patient,
        caller.address,
        withKey.map((i) => i.resource.resourceType),
        withKey.map((i) => i.sourceKey),
        references,
      ]),
    );
    const account = lookup.account as { role: string; box_public_key: string } | null;
    if (!account || account.role !== 'PATIENT') {
      throw new NotFoundError(`no patient account is registered for ${patient}`);
    }
    const existing = new Map<string, RecordEntity & { cid: string; contentHmac: string | null }>();
    for (const row of lookup.existing as Record<string, unknown>[]) {
      const record = recordFromRow(row);
      existing.set(`${record.resourceType}\u0000${record.sourceKey}`, {
        ...record,
        cid: row.cid as string,
        contentHmac: row.content_hmac as string | null,
      });
    }
    const mismatched = new Set(lookup.mismatched as string[]);
    await this.checkRecordIdHints(items, existing);

    const results: WriteResult[] = [];
    const records = new Map<string, RecordEntity>();
    const toWrite: { item: WriteItem; result: WriteResult; hmac: string; previousCid: string | null }[] = [];
    items.forEach((item, i) => {
      const conflict = item.patientReferences.find((r) => mismatched.has(r));
      const result: WriteResult = {
        index: item.index,
        outcome: 'CREATED',
        recordId: null,
        version: null,
        resourceType: item.resource.resourceType,
      };
      results.push(result);
      if (conflict) {
        Object.assign(result, {
          outcome: 'REJECTED',
          code: 'PATIENT_MISMATCH',
          reason: `${conflict} is already linked to another patient's chart`,
          reference: conflict,
        });
        return;
      }
      const found = item.sourceKey
        ? existing.get(`${item.resource.resourceType}\u0000${item.sourceKey}`)
        : undefined;
      if (found && found.contentHmac === hmacs[i]) {
        Object.assign(result, { outcome: 'UNCHANGED', recordId: found.id, version: found.currentVersion });
        records.set(found.id, found);
        return;
      }
      Object.assign(result, {
        outcome: found ? 'UPDATED' : 'CREATED',
        recordId: found ? found.id : (item.recordId ?? randomUUID()),
        version: found ? found.currentVersion + 1 : 1,
      });
      toWrite.push({ item, result, hmac: hmacs[i], previousCid: found?.cid ?? null });
    });
    if (results.some((r) => r.outcome === 'REJECTED')) return { account, results, records, toWrite };
    await this.authorizeTypes(
      caller,
      patient,
      'update',
      toWrite.filter((w) => w.result.outcome === 'UPDATED').map((w) => w.item.resource.resourceType),
    );
    return { account, results, records, toWrite };
  }

  /**
   * A record id a client names must be the one the write resolves to: the stored record with the
   * same identity, or for a new record an id no record has.
   */
  private async checkRecordIdHints(items: WriteItem[], existing: Map<string, RecordEntity>): Promise<void> {
    const fresh: string[] = [];
    for (const item of items) {
      if (!item.recordId) continue;
      const found = item.sourceKey
        ? existing.get(`${item.resource.resourceType}\u0000${item.sourceKey}`)
        : undefined;
      if (found && found.id !== item.recordId) {
        throw new BadUserInputError(
          `recordId ${item.recordId} does not match: this resource is a new version of record ${found.id}`,
          { field: 'recordId' },
        );
      }
      if (!found) fresh.push(item.recordId);
    }
    if (fresh.length === 0) return;
    if (new Set(fresh).size !== fresh.length) {
      throw new BadUserInputError('the same recordId is named for two resources', { field: 'recordId' });
    }
    const taken: { id: string }[] = await this.options.dataSource.query(
      `SELECT id FROM record WHERE id = ANY($1::uuid[])`,
      [fresh],
    );
    if (taken.length > 0) {
      throw new BadUserInputError(
        `recordId ${taken[0].id} is already used by another record; ask recordTypedData for a fresh one`,
        { field: 'recordId' },
      );
    }
  }

  /**
   * The author signature must be the caller's, over exactly the versions this write resolved to;
   * answers what each sealed version carries so other nodes can check it alone.
   */
  private checkSigning(
    caller: Caller,
    patient: string,
    items: WriteItem[],
    results: WriteResult[],
    signing: WriteSigning,
  ): Map<WriteItem, Pick<SealedPayload, 'authorSignature' | 'bundleProof'>> {
    const { signature } = signing;
    if (typeof signature !== 'string' || !/^0x[0-9a-fA-F]{130}$/.test(signature)) {
      throw new BadUserInputError('authorSignature must be a 65-byte 0x-hex signature', {
        field: 'authorSignature',
      });
    }
    const domain = this.domain();
    const carried = new Map<WriteItem, Pick<SealedPayload, 'authorSignature' | 'bundleProof'>>();
    let signer: string | null;
    let what: string;
    if (signing.kind === 'record') {
      const [item] = items;
      const [result] = results;
      const message = recordVersionMessage({
        patient,
        recordId: result.recordId!,
        version: result.version!,
        resource: item.resource,
      });
      signer = typedDataSigner(recordVersionTypedData(domain, message), signature);
      what = `RecordVersion(record ${result.recordId}, version ${result.version})`;
      carried.set(item, { authorSignature: signature });
    } else {
      const leaves = items.map((item, i) => this.leafOf(patient, item, results[i]));
      const root = entriesRoot(leaves);
      signer = typedDataSigner(
        bundleImportTypedData(domain, {
          patient: checksumAddress(patient),
          entriesRoot: root,
          entryCount: leaves.length,
        }),
        signature,
      );
      what = `BundleImport(root ${root}, ${leaves.length} entries)`;
      items.forEach((item, index) => {
        carried.set(item, {
          authorSignature: signature,
          bundleProof: {
            entriesRoot: root,
            entryCount: leaves.length,
            index,
            proof: entryProof(leaves, index),
          },
        });
      });
    }
    if (signer === null) {
      throw new BadUserInputError('authorSignature is not a valid signature', { field: 'authorSignature' });
    }
    if (signer !== caller.address) {
      throw new ForbiddenError(
        `authorSignature over ${what} recovers to ${signer}, not to the caller ${caller.address}: ` +
          'sign exactly what recordTypedData / bundleTypedData answers, with the signed-in account',
      );
    }
    return carried;
  }

  private async authorizeTypes(
    caller: Caller,
    patient: string,
    action: 'create' | 'update',
    resourceTypes: (string | null)[],
  ): Promise<void> {
    const types = [...new Set(resourceTypes.filter((t): t is string => t !== null))];
    if (types.length === 0 && action === 'create') {
      await this.options.policy.authorize({ caller, patient, action });
    }
    for (const resourceType of types) {
      await this.options.policy.authorize({ caller, patient, action, resourceType });
    }
  }

  /**
   * New record versions of a patient's chart as they are written, for subscriptions. The caller must
   * be allowed to read the chart when subscribing, and each record is checked again before it is
   * delivered (a revoked or narrower grant stops or filters the stream).
   */
  async watch(caller: Caller, patientInput: string): Promise<AsyncIterableIterator<RecordEntity>> {
    const patient = normalizeAddress(patientInput, 'patient');
    const { policy } = this.options;
    await policy.authorize({ caller, patient, action: 'read' });
    const events = this.events.subscribe(patient);
    const iterator: AsyncIterableIterator<RecordEntity> = {
      async next() {
        for (;;) {
          const next = await events.next();
          if (next.done) return next;
          const record = next.value;
          try {
            await policy.authorize({
              caller,
              patient,
              action: 'read',
              resourceType: record.resourceType,
              recordId: record.id,
            });
            return next;
          } catch (error) {
            if (!(error instanceof ForbiddenError)) throw error;
          }
        }
      },
      return: () => events.return!(),
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  /** Record metadata the caller may see; content is read separately so metadata-only queries stay cheap. */
  async getRecord(
    caller: Caller,
    idInput: string,
    action: 'read' | 'verify' = 'read',
  ): Promise<RecordEntity> {
    const id = parseRecordId(idInput);
    const record = await this.options.dataSource.getRepository(RecordEntity).findOneBy({ id });
    if (!record) throw new NotFoundError(`no record ${id}`);
    await this.options.policy.authorize({
      caller,
      patient: record.patient,
      action,
      resourceType: record.resourceType,
      recordId: record.id,
    });
    return record;
  }

  /** May the caller read this record's content (records reached through a list, not record(id)). */
  async authorizeRead(caller: Caller, record: RecordEntity): Promise<void> {
    await this.options.policy.authorize({
      caller,
      patient: record.patient,
      action: 'read',
      resourceType: record.resourceType,
      recordId: record.id,
    });
  }

  /** Every version of each record, newest first, in one query (what the `history` loader calls). */
  async versionsOf(recordIds: readonly string[]): Promise<RecordVersionEntity[][]> {
    if (recordIds.length === 0) return [];
    const rows = await this.options.dataSource
      .getRepository(RecordVersionEntity)
      .find({ where: { recordId: In([...recordIds]) }, order: { version: 'DESC' } });
    const byRecord = new Map<string, RecordVersionEntity[]>();
    for (const row of rows) {
      const list = byRecord.get(row.recordId);
      if (list) list.push(row);
      else byRecord.set(row.recordId, [row]);
    }
    return recordIds.map((id) => byRecord.get(id) ?? []);
  }

  /** The current version row of each record, in order (undefined where it is missing), in one query. */
  async currentVersions(records: readonly RecordEntity[]): Promise<(RecordVersionEntity | undefined)[]> {
    if (records.length === 0) return [];
    const rows = await this.options.dataSource
      .getRepository(RecordVersionEntity)
      .find({ where: records.map((r) => ({ recordId: r.id, version: r.currentVersion })) });
    const byKey = new Map(rows.map((row) => [`${row.recordId}:${row.version}`, row]));
    return records.map((record) => byKey.get(`${record.id}:${record.currentVersion}`));
  }

  async currentVersion(record: RecordEntity): Promise<RecordVersionEntity> {
    return this.options.dataSource
      .getRepository(RecordVersionEntity)
      .findOneByOrFail({ recordId: record.id, version: record.currentVersion });
  }

  /** Fetches, authenticates and decrypts one version; IntegrityError when anything does not match. */
  async readResource(record: RecordEntity, version = record.currentVersion): Promise<Resource> {
    const row = await this.options.dataSource
      .getRepository(RecordVersionEntity)
      .findOneByOrFail({ recordId: record.id, version });
    return this.openVersion(record, version, row.cid);
  }

  /**
   * A read of a patient's chart for one operation, after one policy check for the whole read
   * (audited for anyone but the patient): `find` answers from the metadata in Postgres which current
   * records match, newest first, decrypting nothing; `read` decrypts the ones asked for, charged to
   * `budget`. What prediction builds its features from, opening only the records it needs.
   */
  async openChart(
    caller: Caller,
    patientInput: string,
    action: 'predict',
    budget?: DecryptionBudget,
  ): Promise<ChartRead> {
    const patient = normalizeAddress(patientInput, 'patient');
    await this.options.policy.authorize({ caller, patient, action });
    const found = new Map<string, RecordEntity>();
    return {
      find: async (queries) => {
        if (queries.length === 0) return [];
        const rows: Record<string, unknown>[] = await this.options.dataSource.query(
          `SELECT q.n, r.id, r.patient, r.resource_type, r.current_version, r.effective_at
             FROM jsonb_to_recordset($2::jsonb) AS q(n int, resource_type text, codes text[], until timestamptz, exclude text[])
             JOIN record r ON r.patient = $1 AND r.resource_type = q.resource_type
            WHERE (q.codes IS NULL OR r.codes && q.codes)
              AND (q.until IS NULL OR r.effective_at <= q.until)
              AND (q.exclude IS NULL OR coalesce(r.status, '') <> ALL (q.exclude))
            ORDER BY q.n, r.effective_at DESC, r.id DESC`,
          [
            patient,
            JSON.stringify(
              queries.map((q, n) => ({
                n,
                resource_type: q.resourceType,
                codes: q.codes ?? null,
                until: q.until?.toISOString() ?? null,
                exclude: q.excludeStatus ?? null,
              })),
            ),
          ],
        );
        const lists: ChartEntry[][] = queries.map(() => []);
        for (const row of rows) {
          const record = found.get(row.id as string) ?? recordFromRow(row);
          found.set(record.id, record);
          lists[row.n as number].push({ id: record.id, effectiveAt: record.effectiveAt });
        }
        return lists;
      },
      read: (entries) =>
        this.readResources(
          entries.map((entry) => {
            const record = found.get(entry.id);
            if (!record) throw new Error(`record ${entry.id} was not found by this chart read`);
            return record;
          }),
          budget,
        ),
    };
  }

  /**
   * Indexes a record version written at another node, seen as a chain anchor: the caller fetched the
   * envelope by the anchored CID and this node could open it. The version is served only when it
   * continues the record (see {@link continuityProblem}), its author was entitled at the anchor block
   * and any author signature holds; otherwise it is kept in the quarantine, not served. A version
   * held back for a gap is tried again once the version before it is adopted. Idempotent.
   * @throws IntegrityError when the envelope does not open with the node key
   */
  async adoptAnchoredVersion(params: AnchoredVersion): Promise<AdoptionOutcome> {
    const payload = this.openPayload(params.envelope);
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

  private async adoptPayload(params: AnchoredVersion, payload: SealedPayload): Promise<AdoptionOutcome> {
    const { dataSource } = this.options;
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
    const [held] = (await dataSource.query(
      `SELECT r.patient, r.resource_type AS "resourceType", r.current_version AS version, v.cid,
              v.content_hmac AS "contentHmac",
              (SELECT h.cid FROM record_version h WHERE h.record_id = r.id AND h.version = $2) AS "sameVersionCid",
              (SELECT f.anchor_tx FROM record_version f WHERE f.record_id = r.id AND f.version = 1) AS "homeTx"
         FROM record r JOIN record_version v ON v.record_id = r.id AND v.version = r.current_version
        WHERE r.id = $1`,
      [params.recordId, params.version],
    )) as (HeldVersion & {
      sameVersionCid: string | null;
      contentHmac: string | null;
      homeTx: string | null;
    })[];
    if (held?.sameVersionCid === params.cid) return { adopted: false };
    const problem =
      continuityProblem(held ?? null, {
        patient: payload.patient,
        resourceType: resource.resourceType,
        version: payload.version,
        previousCid: payload.previousCid ?? null,
      }) ??
      (payload.authorSignature !== undefined
        ? authorSignatureProblem(this.domain(), {
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
            sameContent: held.contentHmac === contentHmac(this.hmacKey, resource),
            anchoredBy: await this.senderOf(params.anchorTx),
            // A first version not anchored yet was written here.
            home: held.homeTx
              ? await this.senderOf(held.homeTx)
              : this.options.ledger.relayerAddress.toLowerCase(),
          })
        : null);
    if (problem) return quarantine(problem);

    const meta = recordMetadataOf(resource);
    const rows = await dataSource.transaction(async (tx) => {
      const inserted = await tx.query(
        `INSERT INTO record_version (record_id, version, cid, envelope_bytes, author, content_hmac, previous_cid,
                                     author_verified, anchor_tx, anchor_block, anchored_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now()) ON CONFLICT DO NOTHING RETURNING version`,
        [
          params.recordId,
          params.version,
          params.cid,
          params.envelope.length,
          author,
          contentHmac(this.hmacKey, resource),
          payload.previousCid ?? null,
          payload.authorSignature !== undefined,
          params.anchorTx,
          params.anchorBlock,
        ],
      );
      if (inserted.length === 0) return [];
      await tx.query(`DELETE FROM record_quarantine WHERE record_id = $1 AND version = $2 AND cid = $3`, [
        params.recordId,
        params.version,
        params.cid,
      ]);
      // Guarded by the version it continues, so a concurrent adoption cannot skip one.
      return tx.query(
        `INSERT INTO record (id, patient, resource_type, source_id, source_key, full_url, author, current_version,
                             effective_at, codes, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (id) DO UPDATE SET current_version = EXCLUDED.current_version, effective_at = EXCLUDED.effective_at,
                codes = EXCLUDED.codes, status = EXCLUDED.status, updated_at = now()
          WHERE record.current_version = EXCLUDED.current_version - 1
         RETURNING *`,
        [
          params.recordId,
          params.patient,
          resource.resourceType,
          typeof resource.id === 'string' ? resource.id.slice(0, 128) : null,
          payload.sourceKey ?? null,
          payload.fullUrl ?? null,
          author,
          params.version,
          (meta.effectiveAt ?? new Date()).toISOString(),
          meta.codes,
          meta.status,
        ],
      );
    });
    if (rows.length > 0) this.events.publish((rows as Record<string, unknown>[]).map(recordFromRow));
    return { adopted: rows.length > 0 };
  }

  /** Whether the author held a right to write this version when it was anchored. */
  /** Which relayer sent an anchor transaction; remembered, since a batch anchors many versions. */
  private async senderOf(txHash: string): Promise<string | null> {
    const known = this.anchorSenders.get(txHash);
    if (known !== undefined) return known;
    const sender = await this.options.ledger.transactionSender(txHash);
    if (this.anchorSenders.size >= 10_000) this.anchorSenders.clear();
    this.anchorSenders.set(txHash, sender);
    return sender;
  }

  private async entitlement(
    author: string,
    patient: string,
    resourceType: string,
    params: AnchoredVersion,
  ): Promise<VersionProblem | null> {
    if (author === patient) return null;
    const grants = (await this.options.dataSource.query(
      `SELECT scopes, created_block AS "createdBlock", revoked_at AS "revokedAt", revoked_block AS "revokedBlock",
              expires_at AS "expiresAt"
         FROM access_grant WHERE patient = $1 AND grantee = $2 AND kind = 'CONSENT'`,
      [patient, author],
    )) as GrantAtBlock[];
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
    await this.options.dataSource.query(
      `INSERT INTO record_quarantine (record_id, version, cid, patient, author, anchor_tx, anchor_block, reason, detail)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (record_id, version, cid) DO UPDATE SET reason = EXCLUDED.reason, detail = EXCLUDED.detail`,
      [
        params.recordId,
        params.version,
        params.cid,
        params.patient,
        author && /^0x[0-9a-f]{40}$/.test(author) ? author : null,
        params.anchorTx,
        params.anchorBlock,
        problem.reason,
        problem.detail.slice(0, 2_000),
      ],
    );
    return { adopted: false, quarantined: problem };
  }

  /** Versions held back because one before them was missing, tried again now that it is here. */
  private async retryQuarantined(recordId: string, version: number): Promise<void> {
    const waiting = await this.options.dataSource
      .getRepository(RecordQuarantineEntity)
      .find({ where: { recordId, version, reason: 'VERSION_GAP' }, order: { id: 'ASC' } });
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

  /** Versions refused on adoption, newest first (what an operator looks at). */
  async quarantined(recordId?: string): Promise<RecordQuarantineEntity[]> {
    return this.options.dataSource
      .getRepository(RecordQuarantineEntity)
      .find({ where: recordId ? { recordId } : {}, order: { id: 'DESC' } });
  }

  /**
   * The current resource of each record, in order: one query for the CIDs, then fetch and decrypt
   * in parallel (what DataLoaders and the chart summary call, never one record at a time).
   * `budget` is charged for the whole batch before anything is fetched.
   * @throws TooManyDecryptionsError when the batch does not fit in `budget`
   */
  async readResources(records: readonly RecordEntity[], budget?: DecryptionBudget): Promise<Resource[]> {
    if (records.length === 0) return [];
    budget?.take(records.length);
    const rows: { record_id: string; version: number; cid: string }[] = await this.options.dataSource.query(
      `SELECT v.record_id, v.version, v.cid FROM record_version v
         JOIN unnest($1::uuid[], $2::int[]) AS t(record_id, version)
           ON v.record_id = t.record_id AND v.version = t.version`,
      [records.map((r) => r.id), records.map((r) => r.currentVersion)],
    );
    const cids = new Map(rows.map((row) => [`${row.record_id}:${row.version}`, row.cid]));
    return Promise.all(
      records.map((record) => {
        const cid = cids.get(`${record.id}:${record.currentVersion}`);
        if (!cid) throw new IntegrityError(`record ${record.id} has no version ${record.currentVersion}`);
        return this.openVersion(record, record.currentVersion, cid);
      }),
    );
  }

  /**
   * Resolves the references of each record's resource to stored records of the same source and
   * chart: `urn:uuid:` / `urn:oid:` by the fullUrl it was imported under, `Type/id` by the source's
   * own id. One query for the whole list (what the `references` loader calls), the answers in order.
   * References stay as written in the resource; this is the graph view over them. It says which
   * record a reference names, not whether the caller may read that record: reading it is checked
   * when it is read. Should two records match one reference, the one imported under it as fullUrl
   * wins, then the smallest id.
   */
  async resolveReferencesOf(
    items: readonly { record: RecordEntity; resource: Resource }[],
  ): Promise<ResolvedReference[][]> {
    const lists = items.map(({ resource }) => referencesOf(resource).filter((r) => !r.startsWith('#')));
    const item: number[] = [];
    const references: string[] = [];
    const patients: string[] = [];
    const authors: string[] = [];
    lists.forEach((list, i) => {
      for (const reference of list) {
        item.push(i);
        references.push(reference);
        patients.push(items[i].record.patient);
        authors.push(items[i].record.author);
      }
    });
    if (references.length === 0) return lists.map(() => []);
    // Two equality joins (by fullUrl; by type and source id), so each can use an index or a hash.
    const rows: { i: number; reference: string; id: string }[] = await this.options.dataSource.query(
      `WITH t AS (
         SELECT * FROM unnest($1::int[], $2::text[], $3::varchar[], $4::varchar[]) AS t(i, reference, patient, author)
       )
       SELECT DISTINCT ON (i, reference) i, reference, id FROM (
         SELECT t.i, t.reference, r.id, 0 AS rank FROM t
           JOIN record r ON r.patient = t.patient AND r.author = t.author AND r.full_url = t.reference
         UNION ALL
         SELECT t.i, t.reference, r.id, 1 AS rank FROM t
           JOIN record r ON r.patient = t.patient AND r.author = t.author
            AND r.resource_type = split_part(t.reference, '/', 1)
            AND r.source_id = split_part(t.reference, '/', 2)
          WHERE t.reference ~ '^[A-Za-z]+/[A-Za-z0-9.-]+$'
       ) found ORDER BY i, reference, rank, id`,
      [item, references, patients, authors],
    );
    const found = new Map(rows.map((row) => [`${row.i}\u0000${row.reference}`, row.id]));
    return lists.map((list, i) =>
      list.map((reference) => ({ reference, recordId: found.get(`${i}\u0000${reference}`) ?? null })),
    );
  }

  private async openVersion(record: RecordEntity, version: number, cid: string): Promise<Resource> {
    const envelope = await this.timer.timeAsync('ipfsGet', () => this.options.content.get(CID.parse(cid)));
    const payload = this.timer.time('open', () => this.openPayload(envelope));
    if (payload.recordId !== record.id || payload.version !== version || payload.patient !== record.patient) {
      throw new IntegrityError(`envelope ${cid} was sealed for another record version`);
    }
    return payload.resource;
  }

  async verifyRecord(caller: Caller, idInput: string): Promise<RecordProof> {
    const record = await this.getRecord(caller, idInput, 'verify');
    const row = await this.currentVersion(record);
    const proof: RecordProof = {
      recordId: record.id,
      version: row.version,
      cid: row.cid,
      contentMatchesCid: false,
      decrypts: false,
      anchorTx: row.anchorTx,
      anchorBlock: row.anchorBlock,
      chainCid: null,
      anchorMatches: false,
      verified: false,
    };
    try {
      const envelope = await this.options.content.get(CID.parse(row.cid));
      proof.contentMatchesCid = (await cidOf(envelope)).toString() === row.cid;
      const payload = this.openPayload(envelope);
      proof.decrypts = payload.recordId === record.id && payload.version === row.version;
    } catch (error) {
      if (!(error instanceof IntegrityError || error instanceof NotFoundError)) throw error;
    }
    if (row.anchorTx) {
      const events = await this.options.ledger.anchorsInTransaction(row.anchorTx);
      const event = events.find((e) => e.recordId === record.id && e.version === row.version);
      if (event) {
        proof.chainCid = CID.decode(event.cid).toString();
        proof.anchorMatches = proof.chainCid === row.cid && event.patient.toLowerCase() === record.patient;
      }
    }
    proof.verified = proof.contentMatchesCid && proof.decrypts && proof.anchorMatches;
    return proof;
  }

  private openPayload(envelope: Uint8Array): SealedPayload {
    const plaintext = openRecord({ envelope, boxSecretKey: this.options.keys.boxSecretKey });
    return JSON.parse(Buffer.from(plaintext).toString('utf8')) as SealedPayload;
  }
}

/** A rejected single write as the error addRecord answers. */
function rejectionError(result: WriteResult): BadUserInputError {
  return new BadUserInputError(result.reason ?? 'rejected', {
    reason: result.code,
    reference: result.reference,
  });
}

/** A record id a client sends back: the UUID, or the bytes16 hex of the typed data it signed. */
function recordIdHint(value: string | null | undefined, field = 'recordId'): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (/^0x[0-9a-fA-F]{32}$/.test(value)) return bytes16ToUuid(value);
  if (!isUuid(value)) throw new BadUserInputError(`${field} must be a record id (UUID)`, { field });
  return value.toLowerCase();
}

function parseRecordId(id: string): string {
  if (!isUuid(id)) {
    throw new BadUserInputError('id must be a record id (UUID) returned by addRecord', { field: 'id' });
  }
  return id.toLowerCase();
}

/**
 * One round trip before a write: the patient's account, the stored records with the same identities
 * (and the HMAC + CID of their current version), and which of the source's Patient references are
 * already linked to another patient.
 */
const LOOKUP_SQL = `
  SELECT
    (SELECT row_to_json(a) FROM (SELECT role, box_public_key FROM account WHERE address = $1) a) AS account,
    (SELECT coalesce(json_agg(x), '[]'::json) FROM (
       SELECT r.*, v.cid, v.content_hmac
         FROM record r
         JOIN record_version v ON v.record_id = r.id AND v.version = r.current_version
        WHERE r.patient = $1 AND r.author = $2
          AND (r.resource_type, r.source_key) IN (SELECT * FROM unnest($3::varchar[], $4::varchar[]))
     ) x) AS existing,
    (SELECT coalesce(json_agg(reference), '[]'::json) FROM patient_alias
      WHERE source = $2 AND reference = ANY($5::varchar[]) AND patient <> $1) AS mismatched`;

/**
 * The whole write as one statement (atomic on its own, one round trip): new records, updated
 * records (guarded by their current version), versions, Patient aliases and anchor outbox rows.
 * A concurrent write of the same identity or version fails on a unique index instead of duplicating.
 */
const WRITE_SQL = `
  WITH input AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb) AS t(
      id uuid, version int, resource_type varchar, source_id varchar, source_key varchar,
      full_url varchar, effective_at timestamptz, codes text[], status varchar, cid varchar,
      envelope_bytes int, content_hmac char(64), previous_cid varchar, author_verified boolean)
  ),
  aliases AS (
    INSERT INTO patient_alias (source, reference, patient)
    SELECT $2, reference, $3 FROM unnest($4::varchar[]) AS reference
    ON CONFLICT DO NOTHING
  ),
  created AS (
    INSERT INTO record (id, patient, resource_type, source_id, source_key, full_url, author,
                        current_version, effective_at, codes, status)
    SELECT id, $3, resource_type, source_id, source_key, full_url, $2, 1, effective_at, codes, status
      FROM input WHERE version = 1
    RETURNING *
  ),
  updated AS (
    UPDATE record r
       SET current_version = i.version, effective_at = i.effective_at, codes = i.codes,
           status = i.status, source_id = i.source_id, full_url = coalesce(i.full_url, r.full_url),
           updated_at = now()
      FROM input i
     WHERE i.version > 1 AND r.id = i.id AND r.current_version = i.version - 1
    RETURNING r.*
  ),
  versions AS (
    INSERT INTO record_version (record_id, version, cid, envelope_bytes, author, content_hmac, previous_cid,
                                author_verified)
    SELECT id, version, cid, envelope_bytes, $2, content_hmac, previous_cid, author_verified FROM input
  ),
  outbox AS (
    INSERT INTO anchor_outbox (record_id, version, patient, cid)
    SELECT id, version, $3, cid FROM input
  )
  SELECT * FROM created UNION ALL SELECT * FROM updated`;

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

function summarize(
  entries: PlannedEntry[],
  results: Map<number, WriteResult>,
  written: boolean,
): ImportResult {
  const refused = entries.filter((e) => e.rejection || results.get(e.index)?.outcome === 'REJECTED');
  const list: ImportEntryResult[] = entries.map((entry) => {
    const result = results.get(entry.index);
    const base = { index: entry.index, fullUrl: entry.fullUrl, resourceType: entry.resourceType };
    const rejection =
      entry.rejection ??
      (result?.outcome === 'REJECTED' ? { code: result.code!, message: result.reason! } : undefined);
    if (rejection) {
      return {
        ...base,
        recordId: null,
        version: null,
        outcome: 'REJECTED',
        code: rejection.code,
        reason: rejection.message,
      };
    }
    if (!written || !result) {
      return {
        ...base,
        recordId: null,
        version: null,
        outcome: 'REJECTED',
        code: 'BUNDLE_REJECTED',
        reason: `not written: the import is all or nothing and entries ${refused
          .slice(0, 10)
          .map((e) => e.index)
          .join(', ')}${refused.length > 10 ? ', ...' : ''} were rejected`,
      };
    }
    return {
      ...base,
      recordId: result.recordId,
      version: result.version,
      outcome: result.outcome,
      code: null,
      reason: null,
    };
  });
  const count = (outcome: ImportOutcome) => list.filter((e) => e.outcome === outcome).length;
  return {
    created: count('CREATED'),
    updated: count('UPDATED'),
    unchanged: count('UNCHANGED'),
    rejected: count('REJECTED'),
    written: written && refused.length === 0,
    entries: list,
  };
}
