import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Resource } from '@medplum/fhirtypes';
import { BadUserInputError, OmnichartError } from '../errors.js';
import { parseFhirResource, type FhirResourceLimits } from './fhir-validation.js';
import { isPlainObject } from './json-shape.js';
import type { ValidationPool } from './validation-pool.js';

/** Stable codes of why an entry is not imported (`ImportEntry.code`). */
export type EntryRejection =
  | 'NOT_AN_OBJECT'
  | 'NO_RESOURCE'
  | 'TOO_DEEP'
  | 'TOO_LARGE'
  | 'UNKNOWN_RESOURCE_TYPE'
  | 'INVALID_RESOURCE'
  | 'UNSUPPORTED_METHOD'
  | 'UNSUPPORTED_OPERATION'
  | 'CONDITIONAL_NOT_SUPPORTED'
  | 'URL_MISMATCH'
  | 'FULL_URL_TOO_LONG'
  | 'DUPLICATE_ENTRY'
  | 'DANGLING_REFERENCE'
  | 'PATIENT_MISMATCH'
  | 'BUNDLE_REJECTED';

/** One Bundle entry after the checks that need nothing but the Bundle itself. */
export interface PlannedEntry {
  index: number;
  fullUrl: string | null;
  resourceType: string | null;
  /** Set when the entry is acceptable so far. */
  resource?: Resource;
  /** The resource's identity within its source: its `id`, else the entry's `fullUrl`. */
  sourceKey: string | null;
  rejection?: { code: EntryRejection; message: string };
}

export interface BundlePlan {
  type: 'transaction' | 'collection';
  entries: PlannedEntry[];
  /** fullUrls of the Patient entries: Synthea refers to the patient by them. */
  patientFullUrls: Set<string>;
}

export interface PlanEntryOptions {
  limits: FhirResourceLimits;
}

export interface PlanBundleOptions extends PlanEntryOptions {
  maxEntries: number;
  /** Worker threads for large Bundles; without it (or when it declines) entries are checked here. */
  pool?: ValidationPool;
}

/** What a worker answers for an entry: the plan without the resource (the caller keeps its own). */
export type EntryVerdict = Omit<PlannedEntry, 'resource'> & { accepted: boolean };

const MAX_FULL_URL = 512;
/** Entries validated between two turns of the event loop (~15 ms of work). */
const VALIDATION_CHUNK = 100;
const INTERNAL_REFERENCE = /^urn:(uuid|oid):/;

/**
 * Checks a FHIR R4 transaction or collection Bundle entry by entry, as far as the Bundle alone allows:
 * each resource is validated like addRecord's, requests we cannot honour are refused, and every
 * `urn:uuid:` / `urn:oid:` reference must name an entry of the Bundle. References are never rewritten.
 * @throws BadUserInputError (`reason`: NOT_A_BUNDLE, UNSUPPORTED_BUNDLE_TYPE, TOO_MANY_ENTRIES) when
 *   the Bundle as a whole cannot be imported.
 */
export async function planBundle(input: unknown, options: PlanBundleOptions): Promise<BundlePlan> {
  const bundle = typeof input === 'string' ? parseJson(input) : input;
  if (!isPlainObject(bundle) || bundle.resourceType !== 'Bundle') {
    throw new BadUserInputError('importBundle takes a FHIR R4 Bundle (resourceType "Bundle")', {
      reason: 'NOT_A_BUNDLE',
    });
  }
  if (bundle.type !== 'transaction' && bundle.type !== 'collection') {
    throw new BadUserInputError(
      `Bundle type ${JSON.stringify(bundle.type)} is not imported; send a transaction or collection Bundle`,
      { reason: 'UNSUPPORTED_BUNDLE_TYPE' },
    );
  }
  const rawEntries = bundle.entry ?? [];
  if (!Array.isArray(rawEntries)) {
    throw new BadUserInputError('Bundle.entry must be an array', { reason: 'NOT_A_BUNDLE' });
  }
  if (rawEntries.length > options.maxEntries) {
    throw new BadUserInputError(
      `The Bundle has ${rawEntries.length} entries; the limit is ${options.maxEntries} per import`,
      { reason: 'TOO_MANY_ENTRIES', entries: rawEntries.length, limit: options.maxEntries },
    );
  }

  const entries = await planEntries(rawEntries, bundle.type === 'transaction', options);
  const fullUrls = new Set<string>();
  const patientFullUrls = new Set<string>();
  const identities = new Set<string>();
  for (const entry of entries) {
    if (entry.fullUrl && entry.resourceType) {
      if (fullUrls.has(entry.fullUrl)) {
        reject(entry, 'DUPLICATE_ENTRY', `another entry has the fullUrl ${entry.fullUrl}`);
      }
      fullUrls.add(entry.fullUrl);
      if (entry.resourceType === 'Patient') patientFullUrls.add(entry.fullUrl);
    }
    if (entry.resource && entry.sourceKey) {
      const identity = `${entry.resourceType}\u0000${entry.sourceKey}`;
      if (identities.has(identity)) {
        reject(entry, 'DUPLICATE_ENTRY', `another entry is ${entry.resourceType} ${entry.sourceKey}`);
      }
      identities.add(identity);
    }
  }
  for (const entry of entries) {
    if (!entry.resource) continue;
    const dangling = referencesOf(entry.resource).find((r) => INTERNAL_REFERENCE.test(r) && !fullUrls.has(r));
    if (dangling) {
      reject(entry, 'DANGLING_REFERENCE', `${dangling} names no entry of this Bundle`);
    }
  }
  return { type: bundle.type, entries, patientFullUrls };
}

/** Each entry checked on its own, on the pool's workers when it takes the Bundle, else here. */
async function planEntries(
  rawEntries: readonly unknown[],
  transaction: boolean,
  options: PlanBundleOptions,
): Promise<PlannedEntry[]> {
  if (options.pool) {
    try {
      const verdicts = await options.pool.verdicts(rawEntries, transaction, { limits: options.limits });
      if (verdicts?.length === rawEntries.length) {
        return verdicts.map((verdict, index) => withResource(verdict, rawEntries[index]));
      }
    } catch {
      // A worker died or failed on a chunk (the pool logs it): the Bundle is checked here instead.
    }
  }
  // Validation costs ~0.15 ms per entry: a 5,000-entry Bundle would hold the event loop for most of a
  // second, so other requests get their turn between chunks.
  const entries: PlannedEntry[] = [];
  for (const [index, raw] of rawEntries.entries()) {
    if (index > 0 && index % VALIDATION_CHUNK === 0) await yieldToEventLoop();
    entries.push(planEntry(raw, index, transaction, options));
  }
  return entries;
}

/** A worker's verdict with the caller's own copy of the resource it accepted. */
function withResource(verdict: EntryVerdict, raw: unknown): PlannedEntry {
  const { accepted, ...entry } = verdict;
  if (!accepted) return entry;
  const candidate = (raw as { resource: unknown }).resource;
  // The one form parseFhirResource parses itself: a resource sent as a string of JSON.
  const resource = typeof candidate === 'string' ? JSON.parse(candidate) : candidate;
  return { ...entry, resource: resource as Resource };
}

export function entryVerdict(entry: PlannedEntry): EntryVerdict {
  const { resource, ...rest } = entry;
  return { ...rest, accepted: resource !== undefined };
}

/** One entry checked as far as the entry alone allows (what a validation worker runs). */
export function planEntry(
  raw: unknown,
  index: number,
  transaction: boolean,
  options: PlanEntryOptions,
): PlannedEntry {
  const entry: PlannedEntry = { index, fullUrl: null, resourceType: null, sourceKey: null };
  if (!isPlainObject(raw)) return reject(entry, 'NOT_AN_OBJECT', 'a Bundle entry must be a JSON object');
  if (typeof raw.fullUrl === 'string') entry.fullUrl = raw.fullUrl;
  const candidate = raw.resource;
  if (isPlainObject(candidate) && typeof candidate.resourceType === 'string') {
    entry.resourceType = candidate.resourceType.slice(0, 64);
  }
  const request = isPlainObject(raw.request) ? raw.request : undefined;
  if (transaction && request) {
    const problem = requestProblem(request, candidate);
    if (problem) return reject(entry, problem.code, problem.message);
  }
  if (candidate === undefined) return reject(entry, 'NO_RESOURCE', 'the entry has no resource to import');
  if (entry.fullUrl && entry.fullUrl.length > MAX_FULL_URL) {
    return reject(entry, 'FULL_URL_TOO_LONG', `fullUrl is longer than ${MAX_FULL_URL} characters`);
  }
  try {
    entry.resource = parseFhirResource(candidate, options.limits);
  } catch (error) {
    if (!(error instanceof OmnichartError)) throw error;
    const reason =
      error.code === 'PAYLOAD_TOO_LARGE' ? 'TOO_LARGE' : (error.details?.reason as EntryRejection);
    return reject(entry, reason ?? 'INVALID_RESOURCE', error.message);
  }
  const id = entry.resource.id;
  entry.sourceKey = typeof id === 'string' && id !== '' ? id : entry.fullUrl;
  return entry;
}

/** What a transaction entry's request asks that importing cannot do, if anything. */
function requestProblem(
  request: Record<string, unknown>,
  resource: unknown,
): { code: EntryRejection; message: string } | undefined {
  const method = typeof request.method === 'string' ? request.method : 'POST';
  const url = typeof request.url === 'string' ? request.url : '';
  if (method === 'GET' || method === 'HEAD') {
    return { code: 'UNSUPPORTED_METHOD', message: `${method} ${url} is a read; importBundle only writes` };
  }
  if (method === 'DELETE' || method === 'PATCH') {
    return {
      code: 'UNSUPPORTED_METHOD',
      message: `${method} ${url} is not supported: records are append-only (send a new version instead)`,
    };
  }
  if (method !== 'POST' && method !== 'PUT') {
    return { code: 'UNSUPPORTED_METHOD', message: `unknown request method ${method.slice(0, 16)}` };
  }
  if (url.includes('$')) {
    return { code: 'UNSUPPORTED_OPERATION', message: `${url} is an operation, not a resource to store` };
  }
  for (const header of ['ifMatch', 'ifNoneMatch', 'ifModifiedSince'] as const) {
    if (request[header] !== undefined) {
      return { code: 'CONDITIONAL_NOT_SUPPORTED', message: `request.${header} is not supported` };
    }
  }
  if (method === 'PUT') {
    if (url.includes('?')) {
      return {
        code: 'CONDITIONAL_NOT_SUPPORTED',
        message: `conditional update ${url} is not supported; PUT Type/id or POST the resource`,
      };
    }
    const [type, id] = url.split('/');
    const r = isPlainObject(resource) ? resource : {};
    if (type !== r.resourceType || (id !== undefined && r.id !== undefined && id !== r.id)) {
      return { code: 'URL_MISMATCH', message: `PUT ${url} does not name the entry's resource` };
    }
  }
  // POST with ifNoneExist is accepted: the node's own identity rule (source, type, id or fullUrl)
  // already makes a repeated create of the same resource a no-op.
  return undefined;
}

/** Every `reference` string in a resource, as written. */
export function referencesOf(resource: Resource): string[] {
  const found = new Set<string>();
  const stack: unknown[] = [resource];
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value !== 'object' || value === null) continue;
    if (Array.isArray(value)) {
      for (const item of value) stack.push(item);
      continue;
    }
    const object = value as Record<string, unknown>;
    if (typeof object.reference === 'string') found.add(object.reference);
    for (const key of Object.keys(object)) stack.push(object[key]);
  }
  return [...found];
}

export function reject(entry: PlannedEntry, code: EntryRejection, message: string): PlannedEntry {
  entry.rejection ??= { code, message };
  delete entry.resource;
  return entry;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new BadUserInputError('the bundle is a string that is not valid JSON', { reason: 'NOT_A_BUNDLE' });
  }
}
