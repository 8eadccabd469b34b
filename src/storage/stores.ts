import type { DataSource } from 'typeorm';
import { AccountStore } from './account-store.js';
import { AlertStore } from './alert-store.js';
import { AnchorOutboxStore } from './anchor-outbox-store.js';
import { AttestationStore } from './attestation-store.js';
import { AuditStore } from './audit-store.js';
import { BacklogStore } from './backlog-store.js';
import { BreakGlassStore } from './break-glass-store.js';
import { ChartStore } from './chart-store.js';
import { CacheStateStore } from './cache-state-store.js';
import { ChainCursorStore } from './chain-cursor-store.js';
import { GrantStore } from './grant-store.js';
import { HeldVersionStore } from './held-version-store.js';
import { KeyShareStore } from './key-share-store.js';
import { PinOutboxStore } from './pin-outbox-store.js';
import { RecordAdoptionStore } from './record-adoption-store.js';
import { RecordStore } from './record-store.js';
import { RecordWriteStore } from './record-write-store.js';
import { ResearchStore } from './research-store.js';
import { SessionStore } from './session-store.js';
import { SyncQuarantineStore } from './sync-quarantine-store.js';
import { TrainingJobStore } from './training-job-store.js';

/**
 * Every store over one data source, built once by app.ts; services receive the ones they use. Rate
 * limits have their own, made only when enabled.
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
    chart: new ChartStore(dataSource),
    cacheState: new CacheStateStore(dataSource),
    chainCursors: new ChainCursorStore(dataSource),
    grants: new GrantStore(dataSource),
    heldVersions: new HeldVersionStore(dataSource),
    keyShares: new KeyShareStore(dataSource),
    pinOutbox: new PinOutboxStore(dataSource),
    recordAdoption: new RecordAdoptionStore(dataSource),
    records: new RecordStore(dataSource),
    recordWrites: new RecordWriteStore(dataSource),
    research: new ResearchStore(dataSource),
    sessions: new SessionStore(dataSource),
    syncQuarantine: new SyncQuarantineStore(dataSource),
    trainingJobs: new TrainingJobStore(dataSource),
  };
}

export type Stores = ReturnType<typeof createStores>;
