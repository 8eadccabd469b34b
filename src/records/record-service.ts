import type { Resource } from '@medplum/fhirtypes';
import type { Caller } from '../auth/caller.js';
import type { Policy } from '../auth/policy.js';
import type { BlockTime } from '../ledger/block-time.js';
import type { Ledger } from '../ledger/chain-client.js';
import type { Logger } from '../logger.js';
import type { ContentStore } from '../storage/content-store.js';
import type { RecordEntity, RecordQuarantineEntity, RecordVersionEntity } from '../storage/entities/index.js';
import type { NodeKeys } from '../storage/node-keys.js';
import type { RecordAdoptionStore } from '../storage/record-adoption-store.js';
import type { RecordStore } from '../storage/record-store.js';
import type { RecordWriteStore } from '../storage/record-write-store.js';
import type { DecryptionBudget } from './decryption-budget.js';
import { RecordAdoption, type AdoptionOutcome, type AnchoredVersion } from './record-adoption.js';
import { RecordEvents } from './record-events.js';
import { RecordReader, type ChartRead } from './record-reader.js';
import { RecordVerification, type RecordProof } from './record-verification.js';
import { RecordWriter, type GranteeKeys } from './record-writer.js';
import { RecordWrites, type AddRecordSigning, type ImportBundleSigning } from './record-writes.js';
import { resolveReferencesOf, type ResolvedReference } from './reference-resolution.js';
import { StageTimer } from './stage-timer.js';
import type { ImportResult } from './write-plan.js';
import type { ValidationPool } from './validation-pool.js';

/*
 * The records domain as the resolvers, the sync and the ML code see it: one object wiring the
 * modules that do the work (record-writes, record-writer, record-reader, record-adoption,
 * record-verification, reference-resolution) and delegating to them.
 */

export type { AdoptionOutcome, AnchoredVersion } from './record-adoption.js';
export type { RecordProof } from './record-verification.js';
export type { ChartEntry, ChartQuery, ChartRead } from './record-reader.js';
export type { ResolvedReference } from './reference-resolution.js';
export type { SealedPayload } from './sealed-payload.js';
export type { ImportEntryResult, ImportOutcome, ImportResult } from './write-plan.js';
export {
  DEFAULT_MAX_BUNDLE_ENTRIES,
  type AddRecordSigning,
  type ImportBundleSigning,
} from './record-writes.js';

/** The record tables, each behind its store (src/storage). */
export interface RecordStores {
  records: RecordStore;
  writes: RecordWriteStore;
  adoption: RecordAdoptionStore;
}

export interface RecordServiceOptions {
  stores: RecordStores;
  content: ContentStore;
  ledger: Ledger;
  keys: NodeKeys;
  policy: Policy;
  limits: { maxResourceBytes: number; maxJsonDepth: number };
  /**
   * Box public keys of other recipients of new records of a type (other nodes, grantees whose grants
   * cover it); the record key is wrapped for them besides the patient and the node.
   */
  granteeKeys?: GranteeKeys;
  /** Entries one importBundle may carry; default {@link DEFAULT_MAX_BUNDLE_ENTRIES}. */
  maxBundleEntries?: number;
  /** Worker threads that validate large Bundles (validation-pool.ts); none: the main thread. */
  validationPool?: ValidationPool;
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
  /** Every new record version, from every write path (published by the writer). */
  readonly events: RecordEvents;
  /** The one way to create a record version (key rotation writes through it too). */
  readonly writer: RecordWriter;
  private readonly writes: RecordWrites;
  private readonly reader: RecordReader;
  private readonly adoption: RecordAdoption;
  private readonly verification: RecordVerification;

  constructor(private readonly options: RecordServiceOptions) {
    const { stores, content, ledger, keys, policy } = options;
    const timer = (this.timer = options.timer ?? new StageTimer());
    const events = (this.events = options.events ?? new RecordEvents());
    this.writer = new RecordWriter({
      store: stores.writes,
      content,
      keys,
      events,
      timer,
      granteeKeys: options.granteeKeys,
      onRecordWritten: options.onRecordWritten,
    });
    this.writes = new RecordWrites({
      store: stores.writes,
      ledger,
      policy,
      writer: this.writer,
      timer,
      limits: options.limits,
      maxBundleEntries: options.maxBundleEntries,
      validationPool: options.validationPool,
    });
    this.reader = new RecordReader({
      store: stores.records,
      content,
      keys,
      policy,
      events,
      timer,
      writtenVersion: (record) => this.writer.versionWritten(record),
    });
    this.adoption = new RecordAdoption({
      store: stores.adoption,
      content,
      ledger,
      keys,
      writer: this.writer,
      blockTime: options.blockTime,
      logger: options.logger,
    });
    this.verification = new RecordVerification({ content, ledger, keys, reader: this.reader });
  }

  // Writes (record-writes.ts → record-writer.ts)

  /** See {@link RecordWrites.addRecord}. */
  addRecord(
    caller: Caller,
    patient: string,
    resource: unknown,
    signing?: AddRecordSigning,
  ): Promise<RecordEntity> {
    return this.writes.addRecord(caller, patient, resource, signing);
  }

  /** See {@link RecordWrites.importBundle}. */
  importBundle(
    caller: Caller,
    patient: string,
    bundle: unknown,
    signing?: ImportBundleSigning,
  ): Promise<ImportResult> {
    return this.writes.importBundle(caller, patient, bundle, signing);
  }

  recordTypedData(
    ...args: Parameters<RecordWrites['recordTypedData']>
  ): ReturnType<RecordWrites['recordTypedData']> {
    return this.writes.recordTypedData(...args);
  }

  bundleTypedData(
    ...args: Parameters<RecordWrites['bundleTypedData']>
  ): ReturnType<RecordWrites['bundleTypedData']> {
    return this.writes.bundleTypedData(...args);
  }

  // Reads (record-reader.ts)

  getRecord(caller: Caller, id: string, action?: 'read' | 'verify'): Promise<RecordEntity> {
    return this.reader.getRecord(caller, id, action);
  }

  authorizeRead(caller: Caller, record: RecordEntity): Promise<void> {
    return this.reader.authorizeRead(caller, record);
  }

  watch(caller: Caller, patient: string): Promise<AsyncIterableIterator<RecordEntity>> {
    return this.reader.watch(caller, patient);
  }

  versionsOf(recordIds: readonly string[]): Promise<RecordVersionEntity[][]> {
    return this.reader.versionsOf(recordIds);
  }

  currentVersions(records: readonly RecordEntity[]): Promise<(RecordVersionEntity | undefined)[]> {
    return this.reader.currentVersions(records);
  }

  currentVersion(record: RecordEntity): Promise<RecordVersionEntity> {
    return this.reader.currentVersion(record);
  }

  readResource(record: RecordEntity, version?: number): Promise<Resource> {
    return this.reader.readResource(record, version);
  }

  readResources(records: readonly RecordEntity[], budget?: DecryptionBudget): Promise<Resource[]> {
    return this.reader.readResources(records, budget);
  }

  openChart(
    caller: Caller,
    patient: string,
    action: 'predict',
    budget?: DecryptionBudget,
  ): Promise<ChartRead> {
    return this.reader.openChart(caller, patient, action, budget);
  }

  /** See {@link RecordReader.openResearchChart}: only src/research calls it, after its own decision. */
  openResearchChart(patient: string, budget?: DecryptionBudget): ChartRead {
    return this.reader.openResearchChart(patient, budget);
  }

  // Proofs and the reference graph

  verifyRecord(caller: Caller, id: string): Promise<RecordProof> {
    return this.verification.verifyRecord(caller, id);
  }

  resolveReferencesOf(
    items: readonly { record: RecordEntity; resource: Resource }[],
  ): Promise<ResolvedReference[][]> {
    return resolveReferencesOf(this.options.stores.records, items);
  }

  // Versions written at other nodes (record-adoption.ts)

  adoptAnchoredVersion(params: AnchoredVersion): Promise<AdoptionOutcome> {
    return this.adoption.adoptAnchoredVersion(params);
  }

  quarantined(recordId?: string): Promise<RecordQuarantineEntity[]> {
    return this.adoption.quarantined(recordId);
  }
}
