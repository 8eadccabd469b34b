import { AccountEntity } from './account.entity.js';
import { AnchorOutboxEntity } from './anchor-outbox.entity.js';
import { LoginChallengeEntity } from './login-challenge.entity.js';
import { PatientAliasEntity } from './patient-alias.entity.js';
import { RecordVersionEntity } from './record-version.entity.js';
import { RecordEntity } from './record.entity.js';
import { SessionEntity } from './session.entity.js';

export {
  AccountEntity,
  AnchorOutboxEntity,
  LoginChallengeEntity,
  PatientAliasEntity,
  RecordEntity,
  RecordVersionEntity,
  SessionEntity,
};
export type { Role } from './account.entity.js';

export const entities = [
  AccountEntity,
  AnchorOutboxEntity,
  LoginChallengeEntity,
  PatientAliasEntity,
  RecordEntity,
  RecordVersionEntity,
  SessionEntity,
];
