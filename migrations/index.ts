import type { MigrationInterface } from 'typeorm';
import { Initial1795632973598 } from './1795632973598-Initial.js';
import { ConsentAndAudit1795640000000 } from './1795640000000-ConsentAndAudit.js';
import { RecordVersionsAndChart1795650000000 } from './1795650000000-RecordVersionsAndChart.js';
import { TrainingJobsAndChallengeSweep1795660000000 } from './1795660000000-TrainingJobsAndChallengeSweep.js';
import { IdentityAndAlerts1795665000000 } from './1795665000000-IdentityAndAlerts.js';
import { SyncQuarantine1795670000000 } from './1795670000000-SyncQuarantine.js';
import { RecordQuarantine1795680000000 } from './1795680000000-RecordQuarantine.js';
import { RateLimitsAndAlertCodes1795700000000 } from './1795700000000-RateLimitsAndAlertCodes.js';
import { PinOutbox1796500000000 } from './1796500000000-PinOutbox.js';
import { GrantsByGrantee1796600000000 } from './1796600000000-GrantsByGrantee.js';
import { Replicas1796700000000 } from './1796700000000-Replicas.js';

/** Every migration in order; new ones are written by hand (or generated) and appended here. */
export const migrations: (new () => MigrationInterface)[] = [
  Initial1795632973598,
  ConsentAndAudit1795640000000,
  RecordVersionsAndChart1795650000000,
  TrainingJobsAndChallengeSweep1795660000000,
  IdentityAndAlerts1795665000000,
  SyncQuarantine1795670000000,
  RecordQuarantine1795680000000,
  RateLimitsAndAlertCodes1795700000000,
  PinOutbox1796500000000,
  GrantsByGrantee1796600000000,
  Replicas1796700000000,
];
