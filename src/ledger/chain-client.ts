import {
  FetchRequest,
  getBytes,
  hexlify,
  JsonRpcProvider,
  Network,
  Wallet,
  zeroPadValue,
  type Log,
  type TransactionReceipt,
} from 'ethers';
import { BadUserInputError, ServiceUnavailableError } from '../errors.js';
import type { Logger } from '../logger.js';
import { omnichartInterface } from './contract-artifact.js';
import { resolveContract } from './deployment.js';
import { bytes16ToUuid, toAddress, toBytes32, uuidToBytes16 } from './ids.js';
import { toLedgerError } from './ledger-errors.js';
import { TxSender } from './tx-sender.js';

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

/** The node's view of the Omnichart contract. Chain errors surface as SERVICE_UNAVAILABLE or reverts. */
export interface Ledger {
  readonly chainId: bigint;
  readonly contractAddress: string;
  readonly relayerAddress: string;
  registerAccountKey(account: string, boxPublicKey: Uint8Array): Promise<TxResult>;
  /** The account's X25519 box public key, or null when none is registered. */
  accountKey(account: string): Promise<Uint8Array | null>;
  /** One transaction for the batch. onSigned is awaited with the tx hash BEFORE broadcast. */
  anchorRecords(items: RecordAnchorItem[], options?: AnchorRecordsOptions): Promise<TxResult>;
  /** Block of an earlier tx once mined; null while pending, unknown, or reverted (nothing was anchored). */
  transactionBlock(txHash: string): Promise<number | null>;
  /** RecordAnchored events of one tx (verifying a record); empty when the tx is unknown. */
  anchorsInTransaction(txHash: string): Promise<AnchoredRecord[]>;
  /** All RecordAnchored events for a patient since the contract was deployed (export / rebuild). */
  anchorsForPatient(patient: string): Promise<AnchoredRecord[]>;
  /** True when the RPC answers. */
  isReachable(): Promise<boolean>;
  close(): Promise<void>;
}

export interface OpenLedgerParameters {
  rpcUrl: string;
  /** 0x-prefixed private key of the relayer account that signs and pays. */
  relayerKey: string;
  /** Use this deployed contract (it must have code). */
  contractAddress?: string;
  /** Without contractAddress: reuse the contract recorded here, or deploy and record it. */
  deploymentFile?: string;
  /** Persists each raw signed tx before broadcast (see AnvilProcess.journal). */
  journal?: (rawTx: string) => Promise<void>;
  logger: Logger;
  /** Receipt polling interval; small by default because local chains mine instantly. */
  pollIntervalMs?: number;
  /** Per-request RPC timeout. */
  requestTimeoutMs?: number;
}

const recordAnchored = omnichartInterface.getEvent('RecordAnchored')!;

/** Connects to the chain, deploys or verifies the contract, and returns the ledger. */
export async function openLedger(parameters: OpenLedgerParameters): Promise<Ledger> {
  const { rpcUrl, logger, pollIntervalMs = 50, requestTimeoutMs = 30_000 } = parameters;
  const chainId = await fetchChainId(rpcUrl, requestTimeoutMs);
  const request = new FetchRequest(rpcUrl);
  request.timeout = requestTimeoutMs;
  // Chain id read once above; no batching or caching, so every read sees the latest block.
  const provider = new JsonRpcProvider(request, Network.from(chainId), {
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
    return new EthersLedger(provider, sender, chainId, contract.address, contract.fromBlock, wallet.address);
  } catch (error) {
    provider.destroy();
    throw toLedgerError(error, 'opening the ledger');
  }
}

class EthersLedger implements Ledger {
  private closed = false;

  constructor(
    private readonly provider: JsonRpcProvider,
    private readonly sender: TxSender,
    readonly chainId: bigint,
    readonly contractAddress: string,
    private readonly fromBlock: number,
    readonly relayerAddress: string,
  ) {}

  async registerAccountKey(account: string, boxPublicKey: Uint8Array): Promise<TxResult> {
    const data = omnichartInterface.encodeFunctionData('registerAccountKey', [
      toAddress(account, 'account'),
      toBytes32(boxPublicKey, 'boxPublicKey'),
    ]);
    return txResult(await this.send({ data }));
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
    if (items.length === 0) throw new BadUserInputError('anchorRecords needs at least one record');
    const tuples = items.map((item, i) => {
      if (!Number.isInteger(item.version) || item.version < 0 || item.version > 0xffffffff) {
        throw new BadUserInputError(`items[${i}].version must be a uint32, got ${item.version}`);
      }
      if (item.cid.length === 0) throw new BadUserInputError(`items[${i}].cid is empty`);
      return [
        toAddress(item.patient, `items[${i}].patient`),
        uuidToBytes16(item.recordId),
        item.version,
        hexlify(item.cid),
      ];
    });
    const data = omnichartInterface.encodeFunctionData('anchorRecords', [tuples]);
    return txResult(await this.send({ data, onSigned: options.onSigned }));
  }

  async transactionBlock(txHash: string): Promise<number | null> {
    const receipt = await this.rpc('reading a receipt', () => this.provider.getTransactionReceipt(txHash));
    // A reverted tx anchored nothing: to the caller it is as if it never happened (send again).
    if (!receipt || receipt.status !== 1) return null;
    return receipt.blockNumber;
  }

  async anchorsInTransaction(txHash: string): Promise<AnchoredRecord[]> {
    const receipt = await this.rpc('reading a receipt', () => this.provider.getTransactionReceipt(txHash));
    if (!receipt || receipt.status !== 1) return [];
    return receipt.logs.filter((log) => this.isAnchorLog(log)).map(decodeAnchor);
  }

  async anchorsForPatient(patient: string): Promise<AnchoredRecord[]> {
    const topic = zeroPadValue(toAddress(patient, 'patient'), 32);
    const logs = await this.rpc('reading anchors', () =>
      this.provider.getLogs({
        address: this.contractAddress,
        topics: [recordAnchored.topicHash, topic],
        fromBlock: this.fromBlock,
        toBlock: 'latest',
      }),
    );
    return logs.map(decodeAnchor);
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
  }

  private send(parameters: { data: string; onSigned?: (txHash: string) => Promise<void> }) {
    if (this.closed) return Promise.reject(new ServiceUnavailableError('Ledger is closed'));
    return this.sender.send({ to: this.contractAddress, ...parameters });
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
      log.topics[0] === recordAnchored.topicHash
    );
  }
}

function txResult(receipt: TransactionReceipt): TxResult {
  return { txHash: receipt.hash, blockNumber: receipt.blockNumber };
}

function decodeAnchor(log: Log): AnchoredRecord {
  const parsed = omnichartInterface.decodeEventLog(recordAnchored, log.data, log.topics);
  return {
    patient: parsed.patient as string,
    recordId: bytes16ToUuid(parsed.recordId as string),
    version: Number(parsed.version),
    cid: getBytes(parsed.cid as string),
    txHash: log.transactionHash,
    blockNumber: log.blockNumber,
    logIndex: log.index,
  };
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
