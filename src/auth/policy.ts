import { ForbiddenError } from '../errors.js';
import type { Caller } from './caller.js';

export type RecordAction = 'read' | 'create' | 'verify';

/**
 * The one place that answers "may this caller do this to this patient's data".
 * Until consent grants exist, a patient may act on their own chart and nobody else may.
 */
export class Policy {
  assertMayAccessChart(caller: Caller, patient: string, action: RecordAction): void {
    if (caller.address === patient && caller.role === 'PATIENT') return;
    throw new ForbiddenError(`not allowed to ${action} records of ${patient}: no grant from the patient`);
  }
}
