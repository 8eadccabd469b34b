import type { DataSource } from 'typeorm';
import { AccountStore } from './account-store.js';
import { AlertStore } from './alert-store.js';
import { AnchorOutboxStore } from './anchor-outbox-store.js';
import { AttestationStore } from './attestation-store.js';
import { AuditStore } from './audit-store.js';
import { BacklogStore } from './backlog-store.js';
import { BreakGlassStore } from './break-glass-store.js';
import { CacheStateStore } from './cache-state-store.js';
import { ChainCursorStore } from './chain-cursor-store.js';
import { GrantStore } from './grant-store.js';
import { HeldVersionStore } from './held-version-store.js';
import { SessionStore } from './session-store.js';
import { SyncQuarantineStore } from './sync-quarantine-store.js';
import { TrainingJobStore } from './training-job-store.js';

/**
 * The stores of every service outside the record core, over one data source (the record core takes
 * the data source itself until its stores land). Rate limits have their own, made only when enabled.
 */
export function createStores(dataSource: DataSource) {
  return {
    accounts: new AccountStore(dataSource),
    alerts: new AlertStore(dataSource),
    anchorOutbox: new AnchorOutboxStore(dataSource),
    attestations: new AttestationStore(dataSource),
    audit: new AuditStore(dataSource),
    backlogs: new BacklogStore(dataSource),
    breakGlass: new BreakGlassStore(dataSource),
    cacheState: new CacheStateStore(dataSource),
    chainCursors: new ChainCursorStore(dataSource),
    grants: new GrantStore(dataSource),
    heldVersions: new HeldVersionStore(dataSource),
    sessions: new SessionStore(dataSource),
    syncQuarantine: new SyncQuarantineStore(dataSource),
    trainingJobs: new TrainingJobStore(dataSource),
  };
}

export type Stores = ReturnType<typeof createStores>;
