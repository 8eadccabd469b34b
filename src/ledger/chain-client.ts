/**
 * The Ledger over JSON-RPC: connect, deploy or verify the contract, send, read and decode. Over 400
 * lines because it is the one implementation of the whole `Ledger` interface (ledger-types.ts);
 * the codecs and typed data it uses live in their own modules.
 */
import {
  getBytes,
  JsonRpcProvider,
  toQuantity,
  Network,
  Wallet,
  zeroPadValue,
  type Log,
  type Result,
  type TransactionReceipt,
} from 'ethers';
import { ServiceUnavailableError } from '../errors.js';
import type { Logger } from '../logger.js';
import * as anchors from './audit-model-anchors.js';
import {
  decodeRecordAnchoredLog,
  encodeAnchorRecords,
  RECORD_ANCHORED_TOPIC,
  type RawLog,
} from './anchor-codec.js';
import { compareChainEvents, decodeLedgerLog, ledgerEventTopics } from './chain-events.js';
import type { LedgerEvent } from './chain-events.js';
import { ChainIndexer } from './chain-indexer.js';
import * as breakGlass from './break-glass.js';
import * as consent from './consent.js';
import * as identity from './identity.js';
import type { ContractAccess } from './contract-access.js';
import { omnichartInterface } from './contract-artifact.js';
import { resolveContract } from './deployment.js';
import { toAddress } from './ids.js';
import { toLedgerError } from './ledger-errors.js';
import type {
  AttestationTypedData,
  AttestationTypedDataParameters,
  BreakGlassPolicyTypedData,
  BreakGlassPolicyTypedDataParameters,
  OnChainAttestation,
  RegisterAccountParameters,
  RelayAttestationParameters,
  RelayBreakGlassPolicyParameters,
  RelayRevokeAttestationParameters,
  RevokeAttestationTypedData,
  RevokeAttestationTypedDataParameters,
  AnchorModelParameters,
  AnchoredRecord,
  AnchorRecordsOptions,
  AuditRootItem,
  BlockInfo,
  GrantTypedData,
  GrantTypedDataParameters,
  Ledger,
  LedgerIndexerOptions,
  ModelAnchorInfo,
  OnChainGrant,
  RecordAnchorItem,
  RecordBreakGlassParameters,
  RelayGrantParameters,
  RelayRevokeParameters,
  RevokeTypedData,
  RevokeTypedDataParameters,
  TxResult,
} from './ledger-types.js';
import { FetchJsonRpcProvider } from './rpc-provider.js';
import { TxSender, type NonceLock } from './tx-sender.js';

export type * from './ledger-types.js';
export type { LedgerEvent } from './chain-events.js';

export interface OpenLedgerParameters {
  rpcUrl: string;
  /** 0x-prefixed private key of the relayer account that signs and pays. */
  relayerKey: string;
  /** Use this deployed contract (it must have code). */
  contractAddress?: string;
  /** Without contractAddress: reuse the contract recorded here, or deploy and record it. */
  deploymentFile?: string;
  /** Persists each raw signed tx before broadcast (see AnvilProcess.journal). */
  journal?: (rawTx: string, txHash: string) => Promise<void>;
  /** Replicas sharing the relayer key: see TxSenderOptions.nonceLock. */
  nonceLock?: NonceLock;
  logger: Logger;
  /** Receipt polling interval; small by default because local chains mine instantly. */
  pollIntervalMs?: number;
  /** Per-request RPC timeout. */
  requestTimeoutMs?: number;
  /** Runs at the end of close() (the embedded chain stops anvil here). */
  onClose?: () => Promise<void>;
}

/** A log as `eth_getLogs` returns it (quantities in hex). */
interface JsonRpcLog {
  topics: string[];
  data: string;
  transactionHash: string;
  blockNumber: string;
  logIndex: string;
  removed?: boolean;
}

/** Connects to the chain, deploys or verifies the contract, and returns the ledger. */
export async function openLedger(parameters: OpenLedgerParameters): Promise<Ledger> {
  const { rpcUrl, logger, pollIntervalMs = 50, requestTimeoutMs = 30_000 } = parameters;
  const chainId = await fetchChainId(rpcUrl, requestTimeoutMs);
  // Chain id read once above; no batching or caching, so every read sees the latest block.
  const provider = new FetchJsonRpcProvider(rpcUrl, requestTimeoutMs, Network.from(chainId), {
    staticNetwork: Network.from(chainId),
    batchMaxCount: 1,
    cacheTimeout: -1,
    pollingInterval: pollIntervalMs,
  });
  try {
    const wallet = new Wallet(parameters.relayerKey, provider);
    const sender = new TxSender({
      provider,
      wallet,
      chainId,
      journal: parameters.journal,
      nonceLock: parameters.nonceLock,
      logger,
      pollIntervalMs,
    });
    const contract = await resolveContract({
      provider,
      sender,
      chainId,
      contractAddress: parameters.contractAddress,
      deploymentFile: parameters.deploymentFile,
      logger,
    });
    logger.info('ledger open', {
      chainId: `${chainId}`,
      contract: contract.address,
      relayer: wallet.address,
    });
    return new EthersLedger(
      provider,
      sender,
      chainId,
      contract.address,
      contract.fromBlock,
      wallet.address,
      parameters.onClose,
    );
  } catch (error) {
    provider.destroy();
    throw toLedgerError(error, 'opening the ledger');
  }
}

class EthersLedger implements Ledger {
  private closed = false;
  private readonly access: ContractAccess;

  constructor(
    private readonly provider: JsonRpcProvider,
    private readonly sender: TxSender,
    readonly chainId: bigint,
    readonly contractAddress: string,
    private readonly fromBlock: number,
    readonly relayerAddress: string,
    private readonly onClose?: () => Promise<void>,
  ) {
    this.access = {
      provider,
      chainId,
      contractAddress,
      fromBlock,
      read: (name, args, action) => this.read(name, args, action),
      write: (name, args) => this.send({ data: omnichartInterface.encodeFunctionData(name, args) }),
      rpc: (action, call) => this.rpc(action, call),
    };
  }

  registerAccount(parameters: RegisterAccountParameters): Promise<TxResult> {
    return identity.registerAccount(this.access, parameters);
  }

  registerNodeKey(boxPublicKey: Uint8Array): Promise<TxResult> {
    return identity.registerNodeKey(this.access, boxPublicKey);
  }

  owner(): Promise<string> {
    return identity.contractOwner(this.access);
  }

  admitOrganization(organization: string, admitted: boolean): Promise<TxResult> {
    return identity.admitOrganization(this.access, organization, admitted);
  }

  attestationTypedData(parameters: AttestationTypedDataParameters): Promise<AttestationTypedData> {
    return identity.attestationTypedData(this.access, parameters);
  }

  relayAttestation(parameters: RelayAttestationParameters): Promise<TxResult> {
    return identity.relayAttestation(this.access, parameters);
  }

  revokeAttestationTypedData(
    parameters: RevokeAttestationTypedDataParameters,
  ): Promise<RevokeAttestationTypedData> {
    return identity.revokeAttestationTypedData(this.access, parameters);
  }

  relayRevokeAttestation(parameters: RelayRevokeAttestationParameters): Promise<TxResult> {
    return identity.relayRevokeAttestation(this.access, parameters);
  }

  ownerRevokeAttestation(subject: string): Promise<TxResult> {
    return identity.ownerRevokeAttestation(this.access, subject);
  }

  attestationOf(subject: string): Promise<OnChainAttestation | null> {
    return identity.attestationOf(this.access, subject);
  }

  isAttested(account: string, role: string): Promise<boolean> {
    return identity.isAttested(this.access, account, role);
  }

  async setRelayer(relayer: string, enabled: boolean): Promise<TxResult> {
    const data = omnichartInterface.encodeFunctionData('setRelayer', [
      toAddress(relayer, 'relayer'),
      enabled,
    ]);
    return txResult(await this.send({ data }));
  }

  async isRelayer(account: string): Promise<boolean> {
    const data = omnichartInterface.encodeFunctionData('isRelayer', [toAddress(account, 'account')]);
    const result = await this.rpc('reading a relayer flag', () =>
      this.provider.call({ to: this.contractAddress, data }),
    );
    return Boolean(omnichartInterface.decodeFunctionResult('isRelayer', result)[0]);
  }

  async accountKey(account: string): Promise<Uint8Array | null> {
    const data = omnichartInterface.encodeFunctionData('accountKey', [toAddress(account, 'account')]);
    const result = await this.rpc('reading an account key', () =>
      this.provider.call({ to: this.contractAddress, data }),
    );
    const [key] = omnichartInterface.decodeFunctionResult('accountKey', result) as unknown as [string];
    const bytes = getBytes(key);
    return bytes.every((b) => b === 0) ? null : bytes;
  }

  async anchorRecords(items: RecordAnchorItem[], options: AnchorRecordsOptions = {}): Promise<TxResult> {
    const data = encodeAnchorRecords(items);
    return txResult(await this.send({ data, onSigned: options.onSigned }));
  }

  async transactionBlock(txHash: string): Promise<number | null> {
    const receipt = await this.rpc('reading a receipt', () => this.provider.getTransactionReceipt(txHash));
    // A reverted tx anchored nothing: to the caller it is as if it never happened (send again).
    if (!receipt || receipt.status !== 1) return null;
    return receipt.blockNumber;
  }

  async transactionSender(txHash: string): Promise<string | null> {
    const tx = await this.rpc('reading a transaction', () => this.provider.getTransaction(txHash));
    return tx ? tx.from.toLowerCase() : null;
  }

  async anchorsInTransaction(txHash: string): Promise<AnchoredRecord[]> {
    const receipt = await this.rpc('reading a receipt', () => this.provider.getTransactionReceipt(txHash));
    if (!receipt || receipt.status !== 1) return [];
    return receipt.logs.filter((log) => this.isAnchorLog(log)).map(decodeRecordAnchoredLog);
  }

  async anchorsForPatient(patient: string): Promise<AnchoredRecord[]> {
    const topic = zeroPadValue(toAddress(patient, 'patient'), 32);
    const logs = await this.rpc('reading anchors', () =>
      this.logs([RECORD_ANCHORED_TOPIC, topic], this.fromBlock, 'latest'),
    );
    return logs.map(decodeRecordAnchoredLog);
  }

  grantTypedData(parameters: GrantTypedDataParameters): Promise<GrantTypedData> {
    return consent.grantTypedData(this.access, parameters);
  }

  revokeTypedData(parameters: RevokeTypedDataParameters): Promise<RevokeTypedData> {
    return consent.revokeTypedData(this.access, parameters);
  }

  relayGrant(parameters: RelayGrantParameters): Promise<TxResult & { grantId: string }> {
    return consent.relayGrant(this.access, parameters);
  }

  relayRevoke(parameters: RelayRevokeParameters): Promise<TxResult> {
    return consent.relayRevoke(this.access, parameters);
  }

  grantOnChain(grantId: string): Promise<OnChainGrant | null> {
    return consent.grantOnChain(this.access, grantId);
  }

  isGrantActive(grantId: string): Promise<boolean> {
    return consent.isGrantActive(this.access, grantId);
  }

  patientNonce(patient: string): Promise<bigint> {
    return consent.patientNonce(this.access, patient);
  }

  recordBreakGlass(
    parameters: RecordBreakGlassParameters,
  ): Promise<TxResult & { reasonHash: string; breakGlassId: string }> {
    return breakGlass.recordBreakGlass(this.access, parameters);
  }

  endBreakGlass(breakGlassId: string): Promise<TxResult> {
    return breakGlass.endBreakGlass(this.access, breakGlassId);
  }

  breakGlassPolicyTypedData(
    parameters: BreakGlassPolicyTypedDataParameters,
  ): Promise<BreakGlassPolicyTypedData> {
    return breakGlass.breakGlassPolicyTypedData(this.access, parameters);
  }

  relayBreakGlassPolicy(parameters: RelayBreakGlassPolicyParameters): Promise<TxResult> {
    return breakGlass.relayBreakGlassPolicy(this.access, parameters);
  }

  refusesBreakGlass(patient: string): Promise<boolean> {
    return breakGlass.refusesBreakGlass(this.access, patient);
  }

  anchorAuditRoots(roots: AuditRootItem[]): Promise<TxResult> {
    return anchors.anchorAuditRoots(this.access, roots);
  }

  auditRootBlock(patient: string, root: string): Promise<number | null> {
    return anchors.auditRootBlock(this.access, patient, root);
  }

  anchorModel(parameters: AnchorModelParameters): Promise<TxResult> {
    return anchors.anchorModel(this.access, parameters);
  }

  modelAnchor(modelId: string): Promise<ModelAnchorInfo | null> {
    return anchors.modelAnchor(this.access, modelId);
  }

  async latestBlock(): Promise<BlockInfo> {
    const block = await this.rpc('reading the latest block', () => this.provider.getBlock('latest'));
    if (!block) throw new ServiceUnavailableError('Ledger unavailable: the chain returned no latest block');
    return { number: block.number, timestamp: block.timestamp };
  }

  createIndexer(options: LedgerIndexerOptions): ChainIndexer {
    const { fromBlock = this.fromBlock, ...rest } = options;
    return new ChainIndexer({
      ...rest,
      // Nothing of ours exists before the deployment block.
      fromBlock: Math.max(fromBlock, this.fromBlock),
      source: {
        headBlock: () => this.rpc('reading the head block', () => this.provider.getBlockNumber()),
        events: (from, to) => this.events(from, to),
      },
    });
  }

  /** The contract's events in `fromBlock..toBlock` (inclusive) that the node acts on, in chain order. */
  private async events(fromBlock: number, toBlock: number): Promise<LedgerEvent[]> {
    const logs = await this.rpc('reading contract events', () =>
      this.logs([ledgerEventTopics], fromBlock, toBlock),
    );
    const events: LedgerEvent[] = [];
    for (const log of logs) {
      const event = decodeLedgerLog(log);
      if (event) events.push(event);
    }
    return events.sort(compareChainEvents);
  }

  /**
   * `eth_getLogs` on the contract without ethers' Log objects, which cost more than decoding a
   * RecordAnchored log does (one per record written).
   */
  private async logs(
    topics: (string | string[])[],
    fromBlock: number,
    toBlock: number | 'latest',
  ): Promise<RawLog[]> {
    const quantity = (block: number | 'latest') => (block === 'latest' ? block : toQuantity(block));
    const logs = (await this.provider.send('eth_getLogs', [
      { address: this.contractAddress, topics, fromBlock: quantity(fromBlock), toBlock: quantity(toBlock) },
    ])) as JsonRpcLog[];
    return logs
      .filter((log) => !log.removed)
      .map((log) => ({
        topics: log.topics,
        data: log.data,
        transactionHash: log.transactionHash,
        blockNumber: Number(log.blockNumber),
        index: Number(log.logIndex),
      }));
  }

  async isReachable(): Promise<boolean> {
    if (this.closed) return false;
    try {
      await this.provider.send('eth_blockNumber', []);
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.sender.drain();
    this.provider.destroy();
    await this.onClose?.();
  }

  private send(parameters: { data: string; onSigned?: (txHash: string) => Promise<void> }) {
    if (this.closed) return Promise.reject(new ServiceUnavailableError('Ledger is closed'));
    return this.sender.send({ to: this.contractAddress, ...parameters });
  }

  private async read(name: string, args: readonly unknown[], action: string): Promise<Result> {
    const data = omnichartInterface.encodeFunctionData(name, args);
    const result = await this.rpc(action, () => this.provider.call({ to: this.contractAddress, data }));
    return omnichartInterface.decodeFunctionResult(name, result);
  }

  private async rpc<T>(action: string, call: () => Promise<T>): Promise<T> {
    if (this.closed) throw new ServiceUnavailableError('Ledger is closed');
    try {
      return await call();
    } catch (error) {
      throw toLedgerError(error, action);
    }
  }

  private isAnchorLog(log: Log): boolean {
    return (
      log.address.toLowerCase() === this.contractAddress.toLowerCase() &&
      log.topics[0] === RECORD_ANCHORED_TOPIC
    );
  }
}

function txResult(receipt: TransactionReceipt): TxResult {
  return { txHash: receipt.hash, blockNumber: receipt.blockNumber };
}

/** Reads the chain id with a plain request, so an unreachable RPC fails fast instead of retrying forever. */
async function fetchChainId(rpcUrl: string, timeoutMs: number): Promise<bigint> {
  try {
    const response = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await response.json()) as { result?: string; error?: { message?: string } };
    if (!body.result) throw new Error(`eth_chainId failed: ${body.error?.message ?? response.status}`);
    return BigInt(body.result);
  } catch (error) {
    throw toLedgerError(error, 'reading the chain id');
  }
}
