import { checksumAddress, normalizeAddress } from '../ledger/address.js';
import type { Caller } from '../auth/caller.js';
import { AccessDeniedError, decideAll, type AccessRequest, type Policy } from '../auth/policy.js';
import { BadUserInputError, NotFoundError } from '../errors.js';
import type { Ledger } from '../ledger/chain-client.js';
import type { OmnichartDomain } from '../ledger/ledger-types.js';
import {
  bundleImportTypedData,
  entriesRoot,
  recordVersionMessage,
  recordVersionTypedData,
  type BundleImportTypedData,
  type RecordVersionTypedData,
} from '../ledger/record-typed-data.js';
import { omnichartDomain } from '../ledger/typed-data.js';
import type { RecordEntity } from '../storage/entities/index.js';
import type { ActiveConsentKey } from '../storage/grant-store.js';
import type { RecordWriteStore } from '../storage/record-write-store.js';
import { planBundle } from './bundle.js';
import { parseFhirResource, patientReferencesOf } from './fhir-validation.js';
import type { RecordWriter } from './record-writer.js';
import type { StageTimer } from './stage-timer.js';
import {
  classifyItems,
  identityOf,
  recordIdHint,
  recordIdHintsForNew,
  rejectionError,
  summarize,
  type HeldRecord,
  type ImportResult,
  type ItemPlan,
  type WriteItem,
  type WriteResult,
} from './write-plan.js';
import { checkSigning, leafOf, type WriteSigning } from './write-signing.js';
import type { ValidationPool } from './validation-pool.js';

/** Entries one importBundle may carry unless the node is configured otherwise. */
export const DEFAULT_MAX_BUNDLE_ENTRIES = 5_000;

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

export interface RecordWritesOptions {
  store: RecordWriteStore;
  ledger: Ledger;
  policy: Policy;
  writer: RecordWriter;
  timer: StageTimer;
  limits: { maxResourceBytes: number; maxJsonDepth: number };
  maxBundleEntries?: number;
  /** Worker threads that validate large Bundles. */
  validationPool?: ValidationPool;
}

interface WritePlan extends ItemPlan {
  patientBoxKey: Uint8Array;
  consents: readonly ActiveConsentKey[];
}

/**
 * The writes clients ask for (addRecord, importBundle) and the typed data they sign before: validate,
 * authorize, plan against the stored identities, check the signature, then hand the new versions to
 * the {@link RecordWriter}.
 */
export class RecordWrites {
  constructor(private readonly options: RecordWritesOptions) {}

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
    const leaves = items.map((item, i) => leafOf(patient, item, results[i]));
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
      const types = plan.entries.map((e) => e.resourceType);
      const [decision] = await decideAll(this.options.policy, typeRequests(caller, patient, 'create', types));
      await this.options.policy.record(operationOf(caller, patient, 'create', types), decision);
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
    const plan = await this.options.timer.timeAsync('validate', () =>
      planBundle(bundleInput, {
        limits: this.options.limits,
        maxEntries: this.options.maxBundleEntries ?? DEFAULT_MAX_BUNDLE_ENTRIES,
        pool: this.options.validationPool,
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
    const resource = this.options.timer.time('validate', () =>
      parseFhirResource(resourceInput, this.options.limits),
    );
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

  /**
   * The write path shared by addRecord and importBundle: plan, check the signature, then the writer
   * seals and writes the new versions. Nothing is written if any item is refused.
   */
  private async write(
    caller: Caller,
    patient: string,
    items: WriteItem[],
    signing?: WriteSigning,
  ): Promise<{ results: WriteResult[]; records: Map<string, RecordEntity>; written: boolean }> {
    const { patientBoxKey, consents, results, records, toWrite } = await this.plan(caller, patient, items);
    if (results.some((r) => r.outcome === 'REJECTED')) return { results, records, written: false };
    const signed = signing
      ? checkSigning(this.domain(), caller, patient, items, results, signing)
      : undefined;
    if (toWrite.length === 0) return { results, records, written: true };
    const written = await this.options.writer.write({
      patient,
      author: caller.address,
      patientBoxKey,
      consents,
      patientReferences: toWrite.flatMap((w) => w.item.patientReferences),
      versions: toWrite.map(({ item, result, hmac, previousCid }) => ({
        recordId: result.recordId!,
        version: result.version!,
        resource: item.resource,
        previousCid,
        contentHmac: hmac,
        sourceKey: item.sourceKey,
        fullUrl: item.fullUrl,
        signed: signed?.get(item),
      })),
    });
    for (const record of written) records.set(record.id, record);
    return { results, records, written: true };
  }

  /**
   * Authorizes a write and resolves each item against the stored identities (new, changed,
   * unchanged) into the record id and version it will be, without writing anything: what a write
   * does first, and what a client signs.
   */
  private async plan(caller: Caller, patient: string, items: WriteItem[]): Promise<WritePlan> {
    const { policy } = this.options;
    const types = items.map((i) => i.resource.resourceType);
    // Decided now, before anything of the chart is looked at; recorded once when the plan is known.
    const [decision] = await decideAll(policy, typeRequests(caller, patient, 'create', types));
    let operation = operationOf(caller, patient, 'create', types);
    let planned: WritePlan;
    try {
      planned = await this.resolveItems(caller, patient, items);
      const updated = planned.toWrite.filter((w) => w.result.outcome === 'UPDATED');
      if (!planned.results.some((r) => r.outcome === 'REJECTED') && updated.length > 0) {
        const updatedTypes = updated.map((w) => w.item.resource.resourceType);
        await decideAll(policy, typeRequests(caller, patient, 'update', updatedTypes));
        if (updated.length === planned.toWrite.length)
          operation = operationOf(caller, patient, 'update', types);
      }
    } catch (error) {
      // A denied update was recorded as the operation's outcome; anything else still touched the chart.
      if (!(error instanceof AccessDeniedError)) await policy.record(operation, decision);
      throw error;
    }
    await policy.record(operation, decision);
    return planned;
  }

  /** Resolves each item against the stored identities: new, changed, unchanged or refused. */
  private async resolveItems(caller: Caller, patient: string, items: WriteItem[]): Promise<WritePlan> {
    const { store, timer, writer } = this.options;
    const hmacs = timer.time('hash', () => items.map((i) => writer.contentHmacOf(i.resource)));
    const lookup = await timer.timeAsync('postgresRead', () =>
      store.lookupForWrite({
        patient,
        author: caller.address,
        identities: items
          .filter((i) => i.sourceKey !== null)
          .map((i) => ({ resourceType: i.resource.resourceType, sourceKey: i.sourceKey! })),
        patientReferences: [...new Set(items.flatMap((i) => i.patientReferences))],
      }),
    );
    const { account } = lookup;
    if (!account || account.role !== 'PATIENT') {
      throw new NotFoundError(`no patient account is registered for ${patient}`);
    }
    const existing = new Map<string, HeldRecord>();
    for (const held of lookup.existing) {
      const { record } = held;
      existing.set(identityOf(record.resourceType, record.sourceKey), {
        ...record,
        cid: held.cid,
        contentHmac: held.contentHmac,
      } as HeldRecord);
    }
    await this.checkFreshIds(recordIdHintsForNew(items, existing));
    return {
      ...classifyItems(items, hmacs, existing, new Set(lookup.mismatched as string[])),
      patientBoxKey: new Uint8Array(Buffer.from(account.boxPublicKey, 'base64')),
      consents: lookup.consents,
    };
  }

  /** Ids a client names for new records must be free. */
  private async checkFreshIds(fresh: string[]): Promise<void> {
    if (fresh.length === 0) return;
    const taken = await this.options.store.takenIds(fresh);
    if (taken.length > 0) {
      throw new BadUserInputError(
        `recordId ${taken[0]} is already used by another record; ask recordTypedData for a fresh one`,
        { field: 'recordId' },
      );
    }
  }
}

/** One request per resource type a write touches (the chart as a whole when it names none). */
function typeRequests(
  caller: Caller,
  patient: string,
  action: 'create' | 'update',
  resourceTypes: readonly (string | null)[],
): AccessRequest[] {
  const types = [...new Set(resourceTypes.filter((t): t is string => t !== null))];
  if (types.length === 0) return action === 'create' ? [{ caller, patient, action }] : [];
  return types.map((resourceType) => ({ caller, patient, action, resourceType }));
}

/** What the audit entry of a whole write says: its action, and its type when it has only one. */
function operationOf(
  caller: Caller,
  patient: string,
  action: 'create' | 'update',
  resourceTypes: readonly (string | null)[],
): AccessRequest {
  const types = new Set(resourceTypes.filter((t): t is string => t !== null));
  return { caller, patient, action, ...(types.size === 1 ? { resourceType: [...types][0] } : {}) };
}
