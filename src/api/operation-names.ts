/**
 * Operation names are chosen by clients, and each distinct label value is a new time series in
 * Prometheus: only names of a plain shape are kept, and only the first `max` distinct ones; every
 * other name counts as `other`, an operation without a name as `anonymous`.
 */
const PLAIN_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export const OTHER_OPERATION = 'other';
export const ANONYMOUS_OPERATION = 'anonymous';

export class OperationNameLabels {
  private readonly seen = new Set<string>();

  constructor(private readonly max: number) {}

  label(name: string | null | undefined): string {
    if (!name) return ANONYMOUS_OPERATION;
    if (!PLAIN_NAME.test(name) || name === OTHER_OPERATION || name === ANONYMOUS_OPERATION) {
      return OTHER_OPERATION;
    }
    if (this.seen.has(name)) return name;
    if (this.seen.size >= this.max) return OTHER_OPERATION;
    this.seen.add(name);
    return name;
  }
}
