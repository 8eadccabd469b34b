import type { Resource } from '@medplum/fhirtypes';
import { CID } from 'multiformats/cid';
import { normalizeAddress } from '../ledger/address.js';
import type { Caller } from '../auth/caller.js';
import type { Policy } from '../auth/policy.js';
import { BadUserInputError, ForbiddenError, IntegrityError, NotFoundError } from '../errors.js';
import type { ContentStore } from '../storage/content-store.js';
import type { RecordEntity, RecordVersionEntity } from '../storage/entities/index.js';
import type { NodeKeys } from '../storage/node-keys.js';
import type { RecordStore } from '../storage/record-store.js';
import { isUuid } from '../uuid.js';
import type { DecryptionBudget } from './decryption-budget.js';
import type { RecordEvents } from './record-events.js';
import { openPayload } from './sealed-payload.js';
import type { StageTimer } from './stage-timer.js';

export interface RecordReaderOptions {
  store: RecordStore;
  content: ContentStore;
  keys: NodeKeys;
  policy: Policy;
  events: RecordEvents;
  timer: StageTimer;
  /** The version row a write made for a record it returned (RecordWriter.versionWritten). */
  writtenVersion?: (record: RecordEntity) => RecordVersionEntity | undefined;
}

/** Which current records of a chart to find by their metadata (see {@link RecordReader.openChart}). */
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

/** Reads records: metadata, versions, decrypted content, and new versions as they are written. */
export class RecordReader {
  /**
   * The current CID of records this reader answered from a lookup that joined it (record(id)), so
   * reading their content needs no second query. Sound because a version row never changes: the CID
   * belongs to the entity's `currentVersion`, which is checked when it is used.
   */
  private readonly knownCids = new WeakMap<RecordEntity, { version: number; cid: string }>();

  constructor(private readonly options: RecordReaderOptions) {}

  /** Record metadata the caller may see; content is read separately so metadata-only queries stay cheap. */
  async getRecord(
    caller: Caller,
    idInput: string,
    action: 'read' | 'verify' = 'read',
  ): Promise<RecordEntity> {
    const id = parseRecordId(idInput);
    const found = await this.options.timer.timeAsync('postgresRead', () =>
      this.options.store.recordWithCid(id),
    );
    if (!found) throw new NotFoundError(`no record ${id}`);
    const { record, cid } = found;
    if (cid) this.knownCids.set(record, { version: record.currentVersion, cid });
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

  /**
   * New record versions of a patient's chart as they are written, for subscriptions. The caller must
   * be allowed to read the chart when subscribing, and each record is checked again before it is
   * delivered (a revoked or narrower grant stops or filters the stream).
   */
  async watch(caller: Caller, patientInput: string): Promise<AsyncIterableIterator<RecordEntity>> {
    const patient = normalizeAddress(patientInput, 'patient');
    const { policy } = this.options;
    await policy.authorize({ caller, patient, action: 'read' });
    const events = this.options.events.subscribe(patient);
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

  /** Every version of each record, newest first, in one query (what the `history` loader calls). */
  async versionsOf(recordIds: readonly string[]): Promise<RecordVersionEntity[][]> {
    if (recordIds.length === 0) return [];
    const rows = await this.options.store.versionsOf(recordIds);
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
    const written = records.map((record) => this.options.writtenVersion?.(record));
    const unknown = records.filter((_record, i) => !written[i]);
    const byKey =
      unknown.length === 0
        ? new Map<string, RecordVersionEntity>()
        : await this.options.store.versions(
            unknown.map((r) => ({ recordId: r.id, version: r.currentVersion })),
          );
    return records.map((record, i) => written[i] ?? byKey.get(`${record.id}:${record.currentVersion}`));
  }

  async currentVersion(record: RecordEntity): Promise<RecordVersionEntity> {
    const [row] = await this.currentVersions([record]);
    if (!row) throw new IntegrityError(`record ${record.id} has no version ${record.currentVersion}`);
    return row;
  }

  /** Fetches, authenticates and decrypts one version; IntegrityError when anything does not match. */
  async readResource(record: RecordEntity, version = record.currentVersion): Promise<Resource> {
    const cids = await this.options.store.cidsOf([{ recordId: record.id, version }]);
    const cid = cids.get(`${record.id}:${version}`);
    if (!cid) throw new IntegrityError(`record ${record.id} has no version ${version}`);
    return this.openVersion(record, version, cid);
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
    return this.chartRead(patient, budget);
  }

  /**
   * A chart read for research training, with no per-chart policy check: the research service has
   * decided (an attested analyst, the patient's active `research` grant to the analyst's
   * organization) and audits the use itself. Its answers become rows that never leave the node.
   */
  openResearchChart(patientInput: string, budget?: DecryptionBudget): ChartRead {
    return this.chartRead(normalizeAddress(patientInput, 'patient'), budget);
  }

  private chartRead(patient: string, budget?: DecryptionBudget): ChartRead {
    const found = new Map<string, RecordEntity>();
    return {
      find: async (queries) => {
        if (queries.length === 0) return [];
        const rows = await this.options.store.findInChart(
          patient,
          queries.map((q) => ({
            resourceType: q.resourceType,
            codes: q.codes ?? null,
            until: q.until ?? null,
            excludeStatus: q.excludeStatus ?? null,
          })),
        );
        const lists: ChartEntry[][] = queries.map(() => []);
        for (const row of rows) {
          const record = found.get(row.record.id) ?? row.record;
          found.set(record.id, record);
          lists[row.query].push({ id: record.id, effectiveAt: record.effectiveAt });
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
   * The current resource of each record, in order: one query for the CIDs, then fetch and decrypt
   * in parallel (what DataLoaders and the chart summary call, never one record at a time).
   * `budget` is charged for the whole batch before anything is fetched.
   * @throws TooManyDecryptionsError when the batch does not fit in `budget`
   */
  async readResources(records: readonly RecordEntity[], budget?: DecryptionBudget): Promise<Resource[]> {
    if (records.length === 0) return [];
    budget?.take(records.length);
    const unknown = records.filter((r) => this.knownCids.get(r)?.version !== r.currentVersion);
    const cids =
      unknown.length === 0
        ? new Map<string, string>()
        : await this.options.timer.timeAsync('postgresRead', () =>
            this.options.store.cidsOf(unknown.map((r) => ({ recordId: r.id, version: r.currentVersion }))),
          );
    for (const record of records) {
      const known = this.knownCids.get(record);
      if (known?.version === record.currentVersion)
        cids.set(`${record.id}:${record.currentVersion}`, known.cid);
    }
    const held = records.map((record) => {
      const cid = cids.get(`${record.id}:${record.currentVersion}`);
      if (!cid) throw new IntegrityError(`record ${record.id} has no version ${record.currentVersion}`);
      return CID.parse(cid);
    });
    const envelopes = await this.options.timer.timeAsync('ipfsGet', () => this.options.content.getMany(held));
    return records.map((record, i) =>
      this.openEnvelope(record, record.currentVersion, held[i], envelopes[i]),
    );
  }

  private async openVersion(record: RecordEntity, version: number, cid: string): Promise<Resource> {
    const parsed = CID.parse(cid);
    const envelope = await this.options.timer.timeAsync('ipfsGet', () => this.options.content.get(parsed));
    return this.openEnvelope(record, version, parsed, envelope);
  }

  private openEnvelope(record: RecordEntity, version: number, cid: CID, envelope: Uint8Array): Resource {
    const payload = this.options.timer.time('open', () =>
      openPayload(envelope, this.options.keys.boxSecretKey),
    );
    if (payload.recordId !== record.id || payload.version !== version || payload.patient !== record.patient) {
      throw new IntegrityError(`envelope ${cid} was sealed for another record version`);
    }
    return payload.resource;
  }
}

function parseRecordId(id: string): string {
  if (!isUuid(id)) {
    throw new BadUserInputError('id must be a record id (UUID) returned by addRecord', { field: 'id' });
  }
  return id.toLowerCase();
}
