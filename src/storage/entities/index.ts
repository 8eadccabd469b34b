import { AccessAlertEntity } from './access-alert.entity.js';
import { AccountEntity } from './account.entity.js';
import { AttestationEntity } from './attestation.entity.js';
import { BreakGlassPolicyEntity } from './break-glass-policy.entity.js';
import { AnchorOutboxEntity } from './anchor-outbox.entity.js';
import { AuditBatchEntity } from './audit-batch.entity.js';
import { AuditEntryEntity } from './audit-entry.entity.js';
import { ChainCursorEntity } from './chain-cursor.entity.js';
import { GrantEntity } from './grant.entity.js';
import { LoginChallengeEntity } from './login-challenge.entity.js';
import { OrganizationEntity } from './organization.entity.js';
import { PatientAliasEntity } from './patient-alias.entity.js';
import { PinOutboxEntity } from './pin-outbox.entity.js';
import { RateLimitEntity } from './rate-limit.entity.js';
import { RecordKeyShareEntity } from './record-key-share.entity.js';
import { RecordQuarantineEntity } from './record-quarantine.entity.js';
import { RecordVersionEntity } from './record-version.entity.js';
import { RecordEntity } from './record.entity.js';
import { SessionEntity } from './session.entity.js';
import { SyncQuarantineEntity } from './sync-quarantine.entity.js';
import { TrainingJobEntity } from './training-job.entity.js';

export {
  AccessAlertEntity,
  AccountEntity,
  AnchorOutboxEntity,
  AttestationEntity,
  AuditBatchEntity,
  AuditEntryEntity,
  BreakGlassPolicyEntity,
  ChainCursorEntity,
  GrantEntity,
  LoginChallengeEntity,
  OrganizationEntity,
  PatientAliasEntity,
  PinOutboxEntity,
  RateLimitEntity,
  RecordEntity,
  RecordKeyShareEntity,
  RecordQuarantineEntity,
  RecordVersionEntity,
  SessionEntity,
  SyncQuarantineEntity,
  TrainingJobEntity,
};
export type { Role } from './account.entity.js';
export type { AccessAlertKind } from './access-alert.entity.js';
export type { AuditOutcome } from './audit-entry.entity.js';
export type { GrantKind } from './grant.entity.js';
export type { QuarantineReason } from './record-quarantine.entity.js';
export type { TrainingState } from './training-job.entity.js';

export const entities = [
  AccessAlertEntity,
  AccountEntity,
  AnchorOutboxEntity,
  AttestationEntity,
  AuditBatchEntity,
  AuditEntryEntity,
  BreakGlassPolicyEntity,
  ChainCursorEntity,
  GrantEntity,
  LoginChallengeEntity,
  OrganizationEntity,
  PatientAliasEntity,
  PinOutboxEntity,
  RateLimitEntity,
  RecordEntity,
  RecordKeyShareEntity,
  RecordQuarantineEntity,
  RecordVersionEntity,
  SessionEntity,
  SyncQuarantineEntity,
  TrainingJobEntity,
];
