import { isResourceType, OperationOutcomeError, validateResource } from '@medplum/core';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { BadUserInputError, PayloadTooLargeError } from '../errors.js';
import { loadFhirDefinitions } from './fhir-definitions.js';
import { unknownKeysOf } from './fhir-keys.js';
import { isPlainObject, measureJson } from './json-shape.js';

export { loadFhirDefinitions } from './fhir-definitions.js';
export { patientReferencesOf, type PatientReferencesOptions } from './patient-references.js';

/** Stable `details.reason` of a rejected resource (a too-large one is a PayloadTooLargeError instead). */
export type FhirRejectionReason = 'NOT_AN_OBJECT' | 'TOO_DEEP' | 'UNKNOWN_RESOURCE_TYPE' | 'INVALID_RESOURCE';

/** One problem found in a resource: a FHIRPath-like location and what is wrong there. */
export interface FhirIssue {
  path: string;
  message: string;
}

export interface FhirResourceLimits {
  /** UTF-8 bytes of the resource as compact JSON. */
  maxResourceBytes: number;
  /** Nesting depth of JSON objects and arrays; the resource itself is depth 1. */
  maxJsonDepth: number;
}

const maxIssues = 20;

/**
 * Checks that `input` (what the GraphQL JSON scalar gives: an object, or a string of JSON that parses
 * to one) is a valid FHIR R4 resource and returns it unchanged (the same object when given one).
 * Checks run cheapest first: object shape, depth, size, `resourceType`, then the FHIR R4 validator.
 *
 * @throws BadUserInputError with `details.reason` ({@link FhirRejectionReason}) and, for an invalid
 *   resource, `details.issues` ({@link FhirIssue}[], at most 20)
 * @throws PayloadTooLargeError when the compact JSON is over `limits.maxResourceBytes`
 */
export function parseFhirResource(input: unknown, limits: FhirResourceLimits): Resource {
  const candidate = typeof input === 'string' ? parseJsonText(input) : input;
  if (!isPlainObject(candidate)) {
    reject('NOT_AN_OBJECT', `A FHIR resource must be a JSON object, got ${describe(candidate)}`);
  }

  const shape = measureJson(candidate, limits.maxJsonDepth);
  if (shape.depth > limits.maxJsonDepth) {
    reject(
      'TOO_DEEP',
      `The resource nests deeper than ${limits.maxJsonDepth} levels of JSON objects and arrays`,
      {
        maxJsonDepth: limits.maxJsonDepth,
      },
    );
  }
  if (shape.notJson) {
    // Only programmatic callers can get here: GraphQL and JSON.parse never produce such values.
    const issue = { path: shape.notJson.path, message: `not a JSON value (${shape.notJson.found})` };
    reject('INVALID_RESOURCE', `Invalid FHIR resource: ${issue.path}: ${issue.message}`, { issues: [issue] });
  }
  // The walk's lower bound spares us serializing something hopelessly large.
  const bytes =
    shape.minBytes > limits.maxResourceBytes
      ? shape.minBytes
      : Buffer.byteLength(JSON.stringify(candidate), 'utf8');
  if (bytes > limits.maxResourceBytes) {
    throw new PayloadTooLargeError(
      `The resource is ${shape.minBytes > limits.maxResourceBytes ? 'at least ' : ''}${bytes} bytes of JSON; ` +
        `the limit is ${limits.maxResourceBytes}`,
    );
  }

  loadFhirDefinitions();
  const resourceType = candidate.resourceType;
  if (typeof resourceType !== 'string' || resourceType === '') {
    reject('UNKNOWN_RESOURCE_TYPE', 'The resource has no resourceType (a string such as "Observation")');
  }
  if (!isResourceType(resourceType)) {
    reject('UNKNOWN_RESOURCE_TYPE', `"${resourceType.slice(0, 64)}" is not a FHIR R4 resource type`, {
      resourceType: resourceType.slice(0, 64),
    });
  }

  // Before the validator, which mistakes Object.prototype members for elements (see fhir-keys.ts).
  const unknownKeys = unknownKeysOf(candidate, maxIssues);
  if (unknownKeys.length > 0) {
    reject(
      'INVALID_RESOURCE',
      `Invalid FHIR R4 ${resourceType}: ${summarize(unknownKeys, unknownKeys.length)}`,
      {
        issues: unknownKeys,
        issueCount: unknownKeys.length,
      },
    );
  }

  const resource = candidate as unknown as Resource;
  let issues: OperationOutcomeIssue[];
  try {
    // Throws on errors; what it returns are warnings (e.g. a urn:uuid reference), which we accept.
    issues = validateResource(resource).filter((i) => i.severity === 'error' || i.severity === 'fatal');
  } catch (err) {
    if (!(err instanceof OperationOutcomeError)) throw err;
    // The thrown outcome also carries the warnings (urn:uuid references); report the errors first.
    const all = err.outcome.issue ?? [];
    const errors = all.filter((i) => i.severity === 'error' || i.severity === 'fatal');
    issues = errors.length > 0 ? errors : all;
  }
  if (issues.length > 0) {
    const listed = issues.slice(0, maxIssues).map(toFhirIssue);
    reject('INVALID_RESOURCE', `Invalid FHIR R4 ${resourceType}: ${summarize(listed, issues.length)}`, {
      issues: listed,
      issueCount: issues.length,
    });
  }
  return resource;
}

function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    reject('NOT_AN_OBJECT', `The resource is a string that is not valid JSON: ${(err as Error).message}`);
  }
}

/** The first three issues, for the error message. */
function summarize(listed: FhirIssue[], count: number): string {
  const summary = listed
    .slice(0, 3)
    .map((i) => `${i.path}: ${i.message}`)
    .join('; ');
  return count > 3 ? `${summary} (and ${count - 3} more)` : summary;
}

function toFhirIssue(issue: OperationOutcomeIssue): FhirIssue {
  return {
    path: issue.expression?.[0] ?? issue.location?.[0] ?? '(resource)',
    message: issue.details?.text ?? issue.diagnostics ?? issue.code,
  };
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return `a ${value.constructor?.name ?? 'non-plain'} object`;
  return `a ${typeof value}`;
}

function reject(reason: FhirRejectionReason, message: string, details: Record<string, unknown> = {}): never {
  throw new BadUserInputError(message, { reason, ...details });
}
