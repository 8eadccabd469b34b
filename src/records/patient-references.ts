import type { Resource } from '@medplum/fhirtypes';

// `Patient/<id>` with an optional `http(s)://base/` before and `/_history/<vid>` after; ids per FHIR R4.
const patientReference =
  /^(?:https?:\/\/[^?#\s]*\/)?(Patient\/[A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

/** Options for {@link patientReferencesOf}. */
export interface PatientReferencesOptions {
  /**
   * `fullUrl`s of the Patient entries of the Bundle the resource came from (Synthea writes
   * `urn:uuid:` subjects with no `type`); a reference equal to one of them counts, as written.
   */
  patientFullUrls?: ReadonlySet<string>;
}

/**
 * Every reference in `resource` that points at a Patient, deduplicated, in the order found:
 * - a Patient's own `Patient/<id>` (when it has an id) comes first;
 * - `Patient/<id>` and `<base>/Patient/<id>` (a version suffix dropped) become `Patient/<id>`;
 * - any other reference (`urn:uuid:...`, conditional) counts only with `type: 'Patient'` beside it,
 *   or when it is one of `options.patientFullUrls`; it is kept as written.
 * Local references (`#id`) to contained resources are not followed.
 */
export function patientReferencesOf(resource: Resource, options: PatientReferencesOptions = {}): string[] {
  const found = new Set<string>();
  if (resource.resourceType === 'Patient' && typeof resource.id === 'string' && resource.id !== '') {
    found.add(`Patient/${resource.id}`);
  }
  // Iterative walk: resources can nest (contained, Bundle entries) and arrive from untrusted clients.
  const stack: unknown[] = [resource];
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value !== 'object' || value === null) continue;
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push(value[i]);
      continue;
    }
    const object = value as Record<string, unknown>;
    if (typeof object.reference === 'string') {
      const normalized = asPatientReference(object.reference, object.type, options);
      if (normalized) found.add(normalized);
    }
    const keys = Object.keys(object);
    for (let i = keys.length - 1; i >= 0; i--) stack.push(object[keys[i]]);
  }
  return [...found];
}

function asPatientReference(
  reference: string,
  type: unknown,
  options: PatientReferencesOptions,
): string | undefined {
  const match = patientReference.exec(reference);
  if (match) return match[1];
  if (reference.startsWith('#')) return undefined;
  if (type === 'Patient' || options.patientFullUrls?.has(reference)) return reference;
  return undefined;
}
