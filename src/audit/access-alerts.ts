import type { AlertReasonCode } from './alert-text.js';
import { EventEmitter, on } from 'node:events';

export interface AccessAlert {
  patient: string;
  actor: string;
  kind: 'BREAK_GLASS' | 'BREAK_GLASS_ENDED' | 'DENIED';
  action: string;
  resourceType: string | null;
  /** Stable code of why (see alert-text.ts); `reason` is node-written except PRACTITIONER_STATEMENT. */
  reasonCode: AlertReasonCode;
  reason: string | null;
  at: Date;
}

/** In-process fan-out of access alerts to the patient's live subscriptions. */
export class AccessAlertBus {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  /** Live subscriptions for a patient (tests wait on it). */
  listenerCount(patient: string): number {
    return this.emitter.listenerCount(patient);
  }

  publish(alert: AccessAlert): void {
    this.emitter.emit(alert.patient, alert);
  }

  /**
   * Alerts for one patient until `return()` or the signal aborts. Built on `events.on` directly, not in
   * an async generator: a generator's `return()` would wait for the next alert, keeping the listener
   * of an ended subscription until then.
   */
  subscribe(patient: string, signal?: AbortSignal): AsyncIterableIterator<AccessAlert> {
    const events = on(this.emitter, patient, { signal });
    const done = { done: true, value: undefined } as const;
    const iterator: AsyncIterableIterator<AccessAlert> = {
      async next() {
        try {
          const next = await events.next();
          return next.done ? done : { done: false, value: next.value[0] as AccessAlert };
        } catch (error) {
          if ((error as Error).name === 'AbortError') return done;
          throw error;
        }
      },
      async return() {
        await events.return?.();
        return done;
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }
}
