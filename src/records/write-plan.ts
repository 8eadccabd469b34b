import { randomUUID } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import { BadUserInputError } from '../errors.js';
import { bytes16ToUuid } from '../ledger/ids.js';
import type { RecordEntity } from '../storage/entities/index.js';
import { isUuid } from '../uuid.js';
import type { EntryRejection, PlannedEntry } from './bundle.js';

/*
 * The plan step of a client write, without I/O: how each resource relates to what the chart holds
 * (new record, new version, unchanged, refused) and what the client is told about a Bundle.
 */

export type ImportOutcome = 'CREATED' | 'UPDATED' | 'UNCHANGED' | 'REJECTED';

/** One resource a client sends, with the source identity it is matched by. */
export interface WriteItem {
  index: number;
  resource: Resource;
  fullUrl: string | null;
  sourceKey: string | null;
  patientReferences: string[];
  /** The record id the client expects (it signed it); checked against what the write resolves. */
  recordId?: string;
}

export interface WriteResult {
  index: number;
  resourceType: string;
  outcome: ImportOutcome;
  recordId: string | null;
  version: number | null;
  code?: EntryRejection;
  reason?: string;
  reference?: string;
}

/** A stored record with the CID and content HMAC of its current version. */
export type HeldRecord = RecordEntity & { cid: string; contentHmac: string | null };

/** A resource the plan makes a new version of. */
export interface PlannedVersion {
  item: WriteItem;
  result: WriteResult;
  hmac: string;
  previousCid: string | null;
}

export interface ItemPlan {
  results: WriteResult[];
  /** Records the write leaves as they are (UNCHANGED), by id. */
  records: Map<string, RecordEntity>;
  toWrite: PlannedVersion[];
}

/** How a resource is found again: its type and the source's key for it. */
export function identityOf(resourceType: string, sourceKey: string | null): string {
  return `${resourceType}\u0000${sourceKey}`;
}

/**
 * Classifies each item against the records held under the same identity: refused when it names a
 * Patient linked to another chart, unchanged when its content HMAC matches the current version, a
 * new version when it differs, a new record otherwise (under the id the client named, or a fresh one).
 */
export function classifyItems(
  items: readonly WriteItem[],
  hmacs: readonly string[],
  existing: ReadonlyMap<string, HeldRecord>,
  mismatched: ReadonlySet<string>,
  newId: () => string = randomUUID,
): ItemPlan {
  const results: WriteResult[] = [];
  const records = new Map<string, RecordEntity>();
  const toWrite: PlannedVersion[] = [];
  items.forEach((item, i) => {
    const result: WriteResult = {
      index: item.index,
      outcome: 'CREATED',
      recordId: null,
      version: null,
      resourceType: item.resource.resourceType,
    };
    results.push(result);
    const conflict = item.patientReferences.find((r) => mismatched.has(r));
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
      ? existing.get(identityOf(item.resource.resourceType, item.sourceKey))
      : undefined;
    if (found && found.contentHmac === hmacs[i]) {
      Object.assign(result, { outcome: 'UNCHANGED', recordId: found.id, version: found.currentVersion });
      records.set(found.id, found);
      return;
    }
    Object.assign(result, {
      outcome: found ? 'UPDATED' : 'CREATED',
      recordId: found ? found.id : (item.recordId ?? newId()),
      version: found ? found.currentVersion + 1 : 1,
    });
    toWrite.push({ item, result, hmac: hmacs[i], previousCid: found?.cid ?? null });
  });
  return { results, records, toWrite };
}

/**
 * A record id a client names must be the one the write resolves to: the stored record with the same
 * identity, or for a new record an id no record has. Answers the ids named for new records, which
 * the caller checks are free.
 * @throws BadUserInputError (`field: 'recordId'`) when a named id cannot be what the write makes
 */
export function recordIdHintsForNew(
  items: readonly WriteItem[],
  existing: ReadonlyMap<string, RecordEntity>,
): string[] {
  const fresh: string[] = [];
  for (const item of items) {
    if (!item.recordId) continue;
    const found = item.sourceKey
      ? existing.get(identityOf(item.resource.resourceType, item.sourceKey))
      : undefined;
    if (found && found.id !== item.recordId) {
      throw new BadUserInputError(
        `recordId ${item.recordId} does not match: this resource is a new version of record ${found.id}`,
        { field: 'recordId' },
      );
    }
    if (!found) fresh.push(item.recordId);
  }
  if (new Set(fresh).size !== fresh.length) {
    throw new BadUserInputError('the same recordId is named for two resources', { field: 'recordId' });
  }
  return fresh;
}

/** A record id a client sends back: the UUID, or the bytes16 hex of the typed data it signed. */
export function recordIdHint(value: string | null | undefined, field = 'recordId'): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (/^0x[0-9a-fA-F]{32}$/.test(value)) return bytes16ToUuid(value);
  if (!isUuid(value)) throw new BadUserInputError(`${field} must be a record id (UUID)`, { field });
  return value.toLowerCase();
}

/** A rejected single write as the error addRecord answers. */
export function rejectionError(result: WriteResult): BadUserInputError {
  return new BadUserInputError(result.reason ?? 'rejected', {
    reason: result.code,
    reference: result.reference,
  });
}

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

/** The answer to importBundle: every entry's outcome, and why nothing was written if so. */
export function summarize(
  entries: readonly PlannedEntry[],
  results: ReadonlyMap<number, WriteResult>,
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
