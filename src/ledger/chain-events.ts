import { getBytes } from 'ethers';
import { decodeRecordAnchoredLog, RECORD_ANCHORED_TOPIC, type RawLog } from './anchor-codec.js';
import { omnichartInterface } from './contract-artifact.js';
import type { AnchoredRecord } from './ledger-types.js';

/** Where an event sits on chain; events are ordered by (blockNumber, logIndex). */
export interface ChainEventPosition {
  blockNumber: number;
  logIndex: number;
  txHash: string;
}

export type RecordAnchoredEvent = { type: 'RecordAnchored' } & AnchoredRecord;

export interface AccountKeyRegisteredEvent extends ChainEventPosition {
  type: 'AccountKeyRegistered';
  account: string;
  boxPublicKey: Uint8Array;
}

export interface AccountRegisteredEvent extends ChainEventPosition {
  type: 'AccountRegistered';
  account: string;
  role: string;
  displayName: string;
  boxPublicKey: Uint8Array;
  /** ISO 8601, exactly as signed. */
  issuedAt: string;
  /** The account's personal_sign signature over the registration text. */
  signature: string;
}

export interface OrganizationAdmittedEvent extends ChainEventPosition {
  type: 'OrganizationAdmitted';
  organization: string;
  admitted: boolean;
}

export interface AttestedEvent extends ChainEventPosition {
  type: 'Attested';
  subject: string;
  organization: string;
  role: string;
  identifier: string;
  expiresAt: number;
}

export interface AttestationRevokedEvent extends ChainEventPosition {
  type: 'AttestationRevoked';
  subject: string;
  organization: string;
  revokedBy: string;
}

export interface BreakGlassEndedEvent extends ChainEventPosition {
  type: 'BreakGlassEnded';
  breakGlassId: string;
  patient: string;
  practitioner: string;
}

export interface BreakGlassPolicySetEvent extends ChainEventPosition {
  type: 'BreakGlassPolicySet';
  patient: string;
  refuse: boolean;
}

export interface GrantCreatedEvent extends ChainEventPosition {
  type: 'GrantCreated';
  /** Decimal. */
  grantId: string;
  patient: string;
  grantee: string;
  scopes: string;
  /** Unix seconds. */
  expiresAt: number;
}

export interface GrantRevokedEvent extends ChainEventPosition {
  type: 'GrantRevoked';
  grantId: string;
  patient: string;
  grantee: string;
}

export interface BreakGlassEvent extends ChainEventPosition {
  type: 'BreakGlass';
  /** Decimal. */
  breakGlassId: string;
  patient: string;
  practitioner: string;
  /** The organization that attested the practitioner. */
  organization: string;
  /** keccak256 of the UTF-8 reason. */
  reasonHash: string;
  expiresAt: number;
}

export interface AuditRootAnchoredEvent extends ChainEventPosition {
  type: 'AuditRootAnchored';
  patient: string;
  /** 0x bytes32. */
  root: string;
  firstSeq: number;
  lastSeq: number;
}

export interface ModelAnchoredEvent extends ChainEventPosition {
  type: 'ModelAnchored';
  /** 0x bytes32. */
  modelId: string;
  cid: Uint8Array;
  metricsHash: string;
}

/** Every contract event the node acts on. */
export type LedgerEvent =
  | RecordAnchoredEvent
  | AccountKeyRegisteredEvent
  | AccountRegisteredEvent
  | OrganizationAdmittedEvent
  | AttestedEvent
  | AttestationRevokedEvent
  | GrantCreatedEvent
  | GrantRevokedEvent
  | BreakGlassEvent
  | BreakGlassEndedEvent
  | BreakGlassPolicySetEvent
  | AuditRootAnchoredEvent
  | ModelAnchoredEvent;

export type LedgerEventType = LedgerEvent['type'];

export const LEDGER_EVENT_TYPES: readonly LedgerEventType[] = [
  'RecordAnchored',
  'AccountKeyRegistered',
  'AccountRegistered',
  'OrganizationAdmitted',
  'Attested',
  'AttestationRevoked',
  'GrantCreated',
  'GrantRevoked',
  'BreakGlass',
  'BreakGlassEnded',
  'BreakGlassPolicySet',
  'AuditRootAnchored',
  'ModelAnchored',
];

/** topic0 of each event type, for an eth_getLogs filter. */
export const ledgerEventTopics: string[] = LEDGER_EVENT_TYPES.map(
  (name) => omnichartInterface.getEvent(name)!.topicHash,
);

/** The other events, decoded with ethers. */
const byTopic = new Map(
  LEDGER_EVENT_TYPES.filter(
    (name): name is Exclude<LedgerEventType, 'RecordAnchored'> => name !== 'RecordAnchored',
  ).map((name) => [omnichartInterface.getEvent(name)!.topicHash, name]),
);

/** Decodes one of the contract's logs; null for events the node does not act on (e.g. RelayerSet). */
export function decodeLedgerLog(log: RawLog): LedgerEvent | null {
  // The one event every write emits, decoded without ethers' generic coder (see anchor-codec.ts).
  if (log.topics[0] === RECORD_ANCHORED_TOPIC)
    return { type: 'RecordAnchored', ...decodeRecordAnchoredLog(log) };
  const type = byTopic.get(log.topics[0] ?? '');
  if (!type) return null;
  const e = omnichartInterface.decodeEventLog(type, log.data, log.topics);
  const at: ChainEventPosition = {
    blockNumber: log.blockNumber,
    logIndex: log.index,
    txHash: log.transactionHash,
  };
  switch (type) {
    case 'AccountKeyRegistered':
      return { type, ...at, account: e.account, boxPublicKey: getBytes(e.boxPublicKey) };
    case 'AccountRegistered':
      return {
        type,
        ...at,
        account: e.account,
        role: e.role,
        displayName: e.displayName,
        boxPublicKey: getBytes(e.boxPublicKey),
        issuedAt: e.issuedAt,
        signature: e.signature,
      };
    case 'OrganizationAdmitted':
      return { type, ...at, organization: e.organization, admitted: e.admitted };
    case 'Attested':
      return {
        type,
        ...at,
        subject: e.subject,
        organization: e.organization,
        role: e.role,
        identifier: e.identifier,
        expiresAt: Number(e.expiresAt),
      };
    case 'AttestationRevoked':
      return { type, ...at, subject: e.subject, organization: e.organization, revokedBy: e.revokedBy };
    case 'BreakGlassEnded':
      return {
        type,
        ...at,
        breakGlassId: (e.breakGlassId as bigint).toString(),
        patient: e.patient,
        practitioner: e.practitioner,
      };
    case 'BreakGlassPolicySet':
      return { type, ...at, patient: e.patient, refuse: e.refuse };
    case 'GrantCreated':
      return {
        type,
        ...at,
        grantId: (e.grantId as bigint).toString(),
        patient: e.patient,
        grantee: e.grantee,
        scopes: e.scopes,
        expiresAt: Number(e.expiresAt),
      };
    case 'GrantRevoked':
      return {
        type,
        ...at,
        grantId: (e.grantId as bigint).toString(),
        patient: e.patient,
        grantee: e.grantee,
      };
    case 'BreakGlass':
      return {
        type,
        ...at,
        breakGlassId: (e.breakGlassId as bigint).toString(),
        patient: e.patient,
        practitioner: e.practitioner,
        organization: e.organization,
        reasonHash: e.reasonHash,
        expiresAt: Number(e.expiresAt),
      };
    case 'AuditRootAnchored':
      return {
        type,
        ...at,
        patient: e.patient,
        root: e.root,
        firstSeq: Number(e.firstSeq),
        lastSeq: Number(e.lastSeq),
      };
    case 'ModelAnchored':
      return { type, ...at, modelId: e.modelId, cid: getBytes(e.cid), metricsHash: e.metricsHash };
  }
}

/** Chain order. */
export function compareChainEvents(a: ChainEventPosition, b: ChainEventPosition): number {
  return a.blockNumber - b.blockNumber || a.logIndex - b.logIndex;
}
