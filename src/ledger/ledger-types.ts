import type { ChainIndexer, ChainIndexerOptions } from './chain-indexer.js';

/** Where a transaction landed. */
export interface TxResult {
  txHash: string;
  blockNumber: number;
}

/** One record version to anchor. */
export interface RecordAnchorItem {
  /** The patient's account address. */
  patient: string;
  /** The record's UUID (stored on chain as bytes16). */
  recordId: string;
  version: number;
  /** Binary CID of the encrypted envelope. */
  cid: Uint8Array;
}

/** A decoded RecordAnchored event. */
export interface AnchoredRecord {
  /** Lower-case. */
  patient: string;
  recordId: string;
  version: number;
  cid: Uint8Array;
  txHash: string;
  blockNumber: number;
  logIndex: number;
}

export interface AnchorRecordsOptions {
  /** Awaited with the tx hash before broadcast, so a caller can persist it and resume after a crash. */
  onSigned?: (txHash: string) => Promise<void>;
}

/** One field of an EIP-712 struct type. */
export interface TypedDataField {
  name: string;
  type: string;
}

/** The EIP-712 domain of the contract: name "Omnichart", version "1". */
export interface OmnichartDomain {
  name: 'Omnichart';
  version: '1';
  chainId: number;
  verifyingContract: string;
}

/**
 * An `eth_signTypedData_v4` payload (JSON-safe: uint256 values are decimal strings). `types` includes
 * `EIP712Domain` as wallets expect; ethers' `signTypedData` wants it removed (`const { EIP712Domain, ...t }`).
 */
export interface TypedDataPayload<P extends string, M> {
  domain: OmnichartDomain;
  types: Record<'EIP712Domain' | P, TypedDataField[]>;
  primaryType: P;
  message: M;
}

/** What the patient signs to grant access (EIP-712 `Grant`). */
export interface GrantMessage {
  patient: string;
  grantee: string;
  scopes: string;
  /** Unix seconds. */
  expiresAt: number;
  /** Decimal string of the patient's nonce. */
  nonce: string;
}

/** What the patient signs to revoke a grant (EIP-712 `Revoke`). */
export interface RevokeMessage {
  patient: string;
  /** Decimal string. */
  grantId: string;
  /** Decimal string of the patient's nonce. */
  nonce: string;
}

export type GrantTypedData = TypedDataPayload<'Grant', GrantMessage>;
export type RevokeTypedData = TypedDataPayload<'Revoke', RevokeMessage>;

export interface GrantTypedDataParameters {
  patient: string;
  grantee: string;
  /** The scope text exactly as it will be stored (the contract keeps its keccak256). */
  scopes: string;
  /** Unix seconds; must be later than the block that includes the grant. */
  expiresAt: number;
  /** Defaults to the patient's current nonce on chain. */
  nonce?: bigint;
}

export interface RevokeTypedDataParameters {
  patient: string;
  grantId: bigint | string;
  nonce?: bigint;
}

export interface RelayGrantParameters {
  patient: string;
  grantee: string;
  scopes: string;
  expiresAt: number;
  nonce: bigint | string;
  /** 65-byte ECDSA signature (0x hex) over the Grant typed data. */
  signature: string;
}

export interface RelayRevokeParameters {
  grantId: string;
  nonce: bigint | string;
  signature: string;
}

/** A grant as the contract stores it. */
export interface OnChainGrant {
  /** Decimal; ids are 1, 2, 3, ... in creation order. */
  grantId: string;
  patient: string;
  grantee: string;
  /** keccak256 of the UTF-8 scope text that was signed. */
  scopesHash: string;
  /** Unix seconds. */
  expiresAt: number;
  revoked: boolean;
}

/** A registration exactly as the account's wallet signed it (see registrationMessage). */
export interface RegisterAccountParameters {
  account: string;
  role: string;
  displayName: string;
  boxPublicKey: Uint8Array;
  /** ISO 8601 UTC with milliseconds, as in the signed text. */
  issuedAt: string;
  /** EIP-191 personal_sign signature over the registration text. */
  signature: string;
}

/** What an admitted organization signs to attest a practitioner or analyst (EIP-712 `Attestation`). */
export interface AttestationMessage {
  subject: string;
  role: string;
  organization: string;
  /** FHIR `system|value`, e.g. `http://hl7.org/fhir/sid/us-npi|1234567893`. */
  identifier: string;
  /** Unix seconds. */
  expiresAt: number;
  /** Decimal string of the organization's nonce. */
  nonce: string;
}

export interface RevokeAttestationMessage {
  subject: string;
  organization: string;
  /** Decimal string of the signer's nonce. */
  nonce: string;
}

export interface BreakGlassPolicyMessage {
  patient: string;
  refuse: boolean;
  nonce: string;
}

export type AttestationTypedData = TypedDataPayload<'Attestation', AttestationMessage>;
export type RevokeAttestationTypedData = TypedDataPayload<'RevokeAttestation', RevokeAttestationMessage>;
export type BreakGlassPolicyTypedData = TypedDataPayload<'BreakGlassPolicy', BreakGlassPolicyMessage>;

export interface AttestationTypedDataParameters {
  subject: string;
  role: string;
  organization: string;
  identifier: string;
  expiresAt: number;
  nonce?: bigint;
}

export interface RelayAttestationParameters extends Omit<AttestationTypedDataParameters, 'nonce'> {
  nonce: bigint | string;
  signature: string;
}

export interface RevokeAttestationTypedDataParameters {
  subject: string;
  organization: string;
  /** Who signs: the organization (default) or the contract owner. */
  signer?: string;
  nonce?: bigint;
}

export interface RelayRevokeAttestationParameters {
  subject: string;
  nonce: bigint | string;
  signature: string;
}

export interface BreakGlassPolicyTypedDataParameters {
  patient: string;
  refuse: boolean;
  nonce?: bigint;
}

export interface RelayBreakGlassPolicyParameters {
  patient: string;
  refuse: boolean;
  nonce: bigint | string;
  signature: string;
}

/** An attestation as the contract stores it. */
export interface OnChainAttestation {
  /** Lower-case. */
  organization: string;
  expiresAt: number;
  revoked: boolean;
  roleHash: string;
  identifierHash: string;
}

export interface RecordBreakGlassParameters {
  patient: string;
  practitioner: string;
  /** Kept off chain; only keccak256(UTF-8 reason) is recorded. */
  reason: string;
  /** Unix seconds. */
  expiresAt: number;
}

/** One audit batch root; `root` is 0x bytes32. */
export interface AuditRootItem {
  patient: string;
  root: string;
  firstSeq: number;
  lastSeq: number;
}

export interface AnchorModelParameters {
  /** 0x bytes32. */
  modelId: string;
  /** Binary CID of the model artifact. */
  cid: Uint8Array;
  /** 0x bytes32 hash of the model's metrics. */
  metricsHash: string;
}

export interface ModelAnchorInfo {
  cid: Uint8Array;
  metricsHash: string;
  /** The transaction that wrote this (latest) anchor. */
  txHash: string;
  blockNumber: number;
}

export interface BlockInfo {
  number: number;
  /** Unix seconds (chain time). */
  timestamp: number;
}

/** Options for {@link Ledger.createIndexer}; the ledger supplies the chain access. */
export type LedgerIndexerOptions = Omit<ChainIndexerOptions, 'source' | 'fromBlock'> & {
  /** First block to scan (inclusive); defaults to the contract's deployment block. */
  fromBlock?: number;
};

/**
 * The node's view of the Omnichart contract. Chain errors surface as SERVICE_UNAVAILABLE; contract
 * reverts (at gas estimation or mined) as TransactionRevertedError with the custom error name.
 */
export interface Ledger {
  readonly chainId: bigint;
  readonly contractAddress: string;
  readonly relayerAddress: string;
  /** Relays an account's signed registration; the contract verifies the signature and the order. */
  registerAccount(parameters: RegisterAccountParameters): Promise<TxResult>;
  /** Publishes this node's own box key under its relayer address. */
  registerNodeKey(boxPublicKey: Uint8Array): Promise<TxResult>;
  /** Lower-case address of the contract owner (the network operator). */
  owner(): Promise<string>;
  /** Owner only: admit an organization, or withdraw it. */
  admitOrganization(organization: string, admitted: boolean): Promise<TxResult>;
  attestationTypedData(parameters: AttestationTypedDataParameters): Promise<AttestationTypedData>;
  relayAttestation(parameters: RelayAttestationParameters): Promise<TxResult>;
  revokeAttestationTypedData(
    parameters: RevokeAttestationTypedDataParameters,
  ): Promise<RevokeAttestationTypedData>;
  relayRevokeAttestation(parameters: RelayRevokeAttestationParameters): Promise<TxResult>;
  /** Owner only: revoke without a signature. */
  ownerRevokeAttestation(subject: string): Promise<TxResult>;
  attestationOf(subject: string): Promise<OnChainAttestation | null>;
  isAttested(account: string, role: string): Promise<boolean>;
  /** Owner only: let another node's relayer anchor records and register keys (a consortium member). */
  setRelayer(relayer: string, enabled: boolean): Promise<TxResult>;
  isRelayer(account: string): Promise<boolean>;
  /** The account's X25519 box public key, or null when none is registered. */
  accountKey(account: string): Promise<Uint8Array | null>;
  /** One transaction for the batch. onSigned is awaited with the tx hash BEFORE broadcast. */
  anchorRecords(items: RecordAnchorItem[], options?: AnchorRecordsOptions): Promise<TxResult>;
  /** Block of an earlier tx once mined; null while pending, unknown, or reverted (nothing was anchored). */
  transactionBlock(txHash: string): Promise<number | null>;
  /** Lower-case address that sent a mined transaction (which relayer anchored), or null when unknown. */
  transactionSender(txHash: string): Promise<string | null>;
  /** RecordAnchored events of one tx (verifying a record); empty when the tx is unknown. */
  anchorsInTransaction(txHash: string): Promise<AnchoredRecord[]>;
  /** All RecordAnchored events for a patient since the contract was deployed (export / rebuild). */
  anchorsForPatient(patient: string): Promise<AnchoredRecord[]>;

  /** The EIP-712 payload a patient signs to grant access; nonce defaults to the chain's current one. */
  grantTypedData(parameters: GrantTypedDataParameters): Promise<GrantTypedData>;
  /** The EIP-712 payload a patient signs to revoke a grant. */
  revokeTypedData(parameters: RevokeTypedDataParameters): Promise<RevokeTypedData>;
  /** Relays a patient-signed grant; reverts (InvalidSignature, InvalidNonce, GrantExpired, ...) throw. */
  relayGrant(parameters: RelayGrantParameters): Promise<TxResult & { grantId: string }>;
  /** Relays a patient-signed revocation. */
  relayRevoke(parameters: RelayRevokeParameters): Promise<TxResult>;
  /** The grant as stored on chain, or null when the id is unknown. */
  grantOnChain(grantId: string): Promise<OnChainGrant | null>;
  /** The contract's verdict now: known, not revoked, and the head block's time before expiresAt. */
  isGrantActive(grantId: string): Promise<boolean>;
  /** The nonce the patient's next grant or revoke must sign. */
  patientNonce(patient: string): Promise<bigint>;
  /** Publishes a break-glass access; reverts NotAttested, BreakGlassRefused, BreakGlassAlreadyOpen. */
  recordBreakGlass(
    parameters: RecordBreakGlassParameters,
  ): Promise<TxResult & { reasonHash: string; breakGlassId: string }>;
  endBreakGlass(breakGlassId: string): Promise<TxResult>;
  breakGlassPolicyTypedData(
    parameters: BreakGlassPolicyTypedDataParameters,
  ): Promise<BreakGlassPolicyTypedData>;
  relayBreakGlassPolicy(parameters: RelayBreakGlassPolicyParameters): Promise<TxResult>;
  refusesBreakGlass(patient: string): Promise<boolean>;
  /** One transaction for all roots; a root already anchored for its patient keeps its first block. */
  anchorAuditRoots(roots: AuditRootItem[]): Promise<TxResult>;
  /** Block in which `root` was anchored for `patient`, or null when it never was. */
  auditRootBlock(patient: string, root: string): Promise<number | null>;
  /** Anchors (or re-anchors) a model version. */
  anchorModel(parameters: AnchorModelParameters): Promise<TxResult>;
  /** The latest anchor of a model, or null when none. */
  modelAnchor(modelId: string): Promise<ModelAnchorInfo | null>;
  /** The chain head: judge expiry by its timestamp. */
  latestBlock(): Promise<BlockInfo>;
  /** An indexer over this contract's events (not started). */
  createIndexer(options: LedgerIndexerOptions): ChainIndexer;

  /** True when the RPC answers. */
  isReachable(): Promise<boolean>;
  close(): Promise<void>;
}
