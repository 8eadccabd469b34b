import type { Resource } from '@medplum/fhirtypes';

/** What the chart searches and sorts on, taken from a resource at write time. */
export interface RecordMetadata {
  /** Clinical time; null when the resource has none (the write time is used instead). */
  effectiveAt: Date | null;
  /** `system|code` of each coding in the resource's main codes, deduplicated. */
  codes: string[];
  status: string | null;
}

// The first of these that a resource has is its clinical time (Observation, Encounter, Procedure, ...).
const TIME_PATHS = [
  'effectiveDateTime',
  'effectiveInstant',
  'effectivePeriod.start',
  'occurrenceDateTime',
  'occurrencePeriod.start',
  'performedDateTime',
  'performedPeriod.start',
  'onsetDateTime',
  'onsetPeriod.start',
  'period.start',
  'billablePeriod.start',
  'authoredOn',
  'dateAsserted',
  'recordedDate',
  'recorded',
  'issued',
  'date',
  'created',
  'dateTime',
  'sent',
  'started',
  'timestamp',
].map((path) => path.split('.'));

// CodeableConcepts (or arrays of them) that say what a resource is about.
const CODE_FIELDS = ['code', 'vaccineCode', 'medicationCodeableConcept', 'type'];
const MAX_CODES = 64;
const MAX_CODE_LENGTH = 256;

/** Extracts the searchable metadata of a (validated) resource. */
export function recordMetadataOf(resource: Resource): RecordMetadata {
  const r = resource as unknown as Record<string, unknown>;
  return { effectiveAt: clinicalTimeOf(resource), codes: codesOf(r), status: statusOf(r) };
}

/**
 * The clinical time of a resource: the first of {@link TIME_PATHS} it has (an Observation's
 * `effectiveDateTime`, `effectiveInstant`, `effectivePeriod.start`, then `issued`); null when none.
 * The chart sorts by it, and prediction takes "the latest value" by it.
 */
export function clinicalTimeOf(resource: Resource): Date | null {
  for (const path of TIME_PATHS) {
    let value: unknown = resource;
    for (const key of path) value = isObject(value) ? value[key] : undefined;
    if (typeof value === 'string') {
      const time = parseFhirDateTime(value);
      if (time) return time;
    }
  }
  return null;
}

/**
 * A FHIR date, dateTime or instant (`2021`, `2021-04`, `2021-04-03`, `2021-04-03T08:03:00+02:00`) as
 * the instant it starts at (UTC for partial dates); null when it is not one.
 */
export function parseFhirDateTime(text: string): Date | null {
  if (!/^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/.test(text))
    return null;
  const iso = /^\d{4}$/.test(text) ? `${text}-01-01` : /^\d{4}-\d{2}$/.test(text) ? `${text}-01` : text;
  const time = new Date(iso);
  return Number.isFinite(time.getTime()) ? time : null;
}

function codesOf(resource: Record<string, unknown>): string[] {
  const found = new Set<string>();
  const addConcept = (concept: unknown) => {
    const codings = isObject(concept) && Array.isArray(concept.coding) ? concept.coding : [];
    for (const coding of codings) {
      if (!isObject(coding) || typeof coding.code !== 'string') continue;
      const system = typeof coding.system === 'string' ? coding.system : '';
      const text = `${system}|${coding.code}`;
      if (text.length <= MAX_CODE_LENGTH && found.size < MAX_CODES) found.add(text);
    }
  };
  for (const field of CODE_FIELDS) {
    const value = resource[field];
    for (const concept of Array.isArray(value) ? value : [value]) addConcept(concept);
  }
  if (Array.isArray(resource.component)) {
    for (const component of resource.component) if (isObject(component)) addConcept(component.code);
  }
  return [...found];
}

function statusOf(resource: Record<string, unknown>): string | null {
  const clinical = resource.clinicalStatus;
  if (isObject(clinical) && Array.isArray(clinical.coding)) {
    const code = clinical.coding.find((c) => isObject(c) && typeof c.code === 'string') as
      { code: string } | undefined;
    if (code) return code.code.slice(0, 64);
  }
  return typeof resource.status === 'string' ? resource.status.slice(0, 64) : null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
