import { EventEmitter, on } from 'node:events';

export interface AccessAlert {
  patient: string;
  actor: string;
  kind: 'BREAK_GLASS' | 'BREAK_GLASS_ENDED' | 'DENIED';
  action: string;
  resourceType: string | null;
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

  /** Alerts for one patient until the signal aborts (the subscription ends). */
  async *subscribe(patient: string, signal?: AbortSignal): AsyncGenerator<AccessAlert> {
    try {
      for await (const [alert] of on(this.emitter, patient, { signal })) yield alert as AccessAlert;
    } catch (error) {
      if ((error as Error).name !== 'AbortError') throw error;
    }
  }
}
