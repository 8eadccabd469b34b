import { isResourceType } from '@medplum/core';

/**
 * Why an alert was raised, as a code clients can act on. Only PRACTITIONER_STATEMENT alerts carry
 * words the node did not write: the practitioner's reason for breaking the glass, which the patient
 * must see as given (bounded and cleaned by `practitionerStatement`).
 */
export type AlertReasonCode = 'NO_GRANT' | 'PATIENT_ONLY' | 'PRACTITIONER_STATEMENT' | 'BREAK_GLASS_ENDED';

/** The node-written sentence of an alert: built from node-chosen parts only. */
export function alertMessage(alert: {
  reasonCode: string;
  action: string;
  resourceType: string | null;
}): string {
  switch (alert.reasonCode) {
    case 'PATIENT_ONLY':
      return `Access refused: only you may ${alert.action} this chart.`;
    case 'NO_GRANT':
      return `Access refused: no active grant from you covers ${alert.action}${
        alert.resourceType ? ` of ${alert.resourceType} records` : ''
      }.`;
    case 'PRACTITIONER_STATEMENT':
      return "Emergency (break-glass) read access was opened for one hour; `reason` is the practitioner's own statement.";
    case 'BREAK_GLASS_ENDED':
      return 'Emergency (break-glass) access was ended.';
    default:
      return 'Access event on your chart.';
  }
}

/**
 * A resource type as the node may repeat it to the patient: one of the FHIR R4 types, else nothing.
 * Callers choose the types they ask about (a timeline filter, say), so anything else is dropped.
 */
export function knownResourceType(resourceType: string | null | undefined): string | null {
  return resourceType && isResourceType(resourceType) ? resourceType : null;
}

/** Characters that can hide or reorder text on the patient's screen: C0/C1 controls and bidi/zero-width marks. */
const HIDDEN_CHARACTERS = /[\p{Cc}\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]/u;
export const STATEMENT_MIN = 10;
export const STATEMENT_MAX = 500;

/**
 * The practitioner's break-glass reason as kept and shown: NFC, trimmed, 10–500 characters, one line
 * of plain text. Returns null when it is not acceptable (the caller refuses the request).
 */
export function practitionerStatement(input: string): string | null {
  const text = input.normalize('NFC').trim();
  if (text.length < STATEMENT_MIN || text.length > STATEMENT_MAX) return null;
  return HIDDEN_CHARACTERS.test(text) ? null : text;
}
