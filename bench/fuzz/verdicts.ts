/**
 * What a fuzz case must come out as, in one place for the tests and the bench: each check throws a
 * FuzzFailure that says what went wrong, and returns how the case ended when all is well.
 */
import { BadUserInputError, PayloadTooLargeError } from '../../src/errors.js';
import { parseFhirResource, type FhirResourceLimits } from '../../src/records/fhir-validation.js';

export class FuzzFailure extends Error {}

/** The case as JSON text, cut to a readable length, for failure messages. */
export function showCase(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 1_500 ? `${text.slice(0, 1_500)}... (${text.length} chars)` : text;
}

/** `details.reason` values the validator may give (see FhirRejectionReason). */
export const FHIR_REASONS: ReadonlySet<string> = new Set([
  'NOT_AN_OBJECT',
  'TOO_DEEP',
  'UNKNOWN_RESOURCE_TYPE',
  'INVALID_RESOURCE',
]);

/**
 * A case that takes more CPU time than this counts as a hang. CPU time of this process, not wall
 * time: other work on the machine (a CI run beside a benchmark) stretches wall time many times over,
 * while a real hang (a regular expression gone exponential, a loop per character squared) costs its
 * CPU wherever it runs.
 */
export const VALIDATOR_BUDGET_MS = 5_000;

/** Milliseconds of CPU (user and system) this process has used since `start`. */
export function cpuMsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

/**
 * The validator either accepts `resource` (returning it untouched, and accepting its JSON text the
 * same way) or refuses it with a BadUserInputError of a stable reason or a PayloadTooLargeError, and
 * the object and its JSON text get the same answer.
 */
export function checkValidator(resource: unknown, limits: FhirResourceLimits): 'accepted' | string {
  try {
    return checkValidatorOnce(resource, limits);
  } catch (error) {
    if (error instanceof FuzzFailure)
      throw new FuzzFailure(`${error.message}\n  case: ${showCase(resource)}`);
    throw error;
  }
}

function checkValidatorOnce(resource: unknown, limits: FhirResourceLimits): 'accepted' | string {
  const text = JSON.stringify(resource);
  const started = process.cpuUsage();
  const asObject = outcome(() => parseFhirResource(resource, limits));
  const asText = outcome(() => parseFhirResource(text, limits));
  const ms = cpuMsSince(started);
  if (ms > VALIDATOR_BUDGET_MS) throw new FuzzFailure(`validation took ${ms.toFixed(0)} ms of CPU`);
  if (JSON.stringify(resource) !== text) throw new FuzzFailure('the validator changed its input');
  if (asObject.verdict !== asText.verdict) {
    throw new FuzzFailure(`object → ${asObject.verdict} but its JSON text → ${asText.verdict}`);
  }
  if (asObject.verdict === 'accepted') {
    if (asObject.value !== resource) throw new FuzzFailure('accepted, but returned another object');
    if (JSON.stringify(asText.value) !== text)
      throw new FuzzFailure('accepted, but does not round-trip as JSON');
  }
  return asObject.verdict;
}

function outcome(run: () => unknown): { verdict: string; value?: unknown } {
  try {
    return { verdict: 'accepted', value: run() };
  } catch (error) {
    if (error instanceof PayloadTooLargeError) return { verdict: 'PAYLOAD_TOO_LARGE' };
    if (error instanceof BadUserInputError) {
      const reason = String(error.details?.reason);
      if (!FHIR_REASONS.has(reason)) throw new FuzzFailure(`BadUserInputError with unknown reason ${reason}`);
      return { verdict: reason };
    }
    throw new FuzzFailure(`threw ${error instanceof Error ? error.stack : String(error)}`);
  }
}
