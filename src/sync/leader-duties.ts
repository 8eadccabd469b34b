import type { Logger } from '../logger.js';
import type { ReplicaRole } from '../storage/leader-election.js';

export interface LeaderDutiesParameters {
  /** Starts what only the leader runs: the chain indexer, the audit anchorer, training. */
  lead(): Promise<void>;
  /** Stops it again (a range being applied or a batch being anchored finishes first). */
  follow(): Promise<void>;
  logger: Logger;
}

/**
 * Applies role changes one at a time and in order, so a quick lose-and-regain never leaves two
 * indexers (or none) running in this process; the last role asked for wins.
 */
export class LeaderDuties {
  private tail: Promise<void> = Promise.resolve();
  private applied: ReplicaRole | null = null;

  constructor(private readonly parameters: LeaderDutiesParameters) {}

  /** Resolves once this process runs exactly the duties of `role`. */
  switchTo(role: ReplicaRole): Promise<void> {
    this.tail = this.tail.then(async () => {
      if (this.applied === role) return;
      try {
        await (role === 'leader' ? this.parameters.lead() : this.parameters.follow());
        this.applied = role;
      } catch (error) {
        // Left as it was; the next change of role (or a retry by the caller) tries again.
        this.parameters.logger.error('could not take up the replica role', {
          role,
          error: (error as Error).message,
        });
      }
    });
    return this.tail;
  }

  /** Records that this process already runs the duties of `role` (started by hand at start). */
  assume(role: ReplicaRole): void {
    this.applied = role;
  }

  /** The duties this process runs now (null before the first switch). */
  get role(): ReplicaRole | null {
    return this.applied;
  }
}
