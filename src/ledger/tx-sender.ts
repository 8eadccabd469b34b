import { type JsonRpcProvider, type TransactionReceipt, type Wallet } from 'ethers';
import { ServiceUnavailableError } from '../errors.js';
import type { Logger } from '../logger.js';
import { TransactionRevertedError, revertReason, toLedgerError } from './ledger-errors.js';
import { signEip1559 } from './raw-transaction.js';

/** Runs `work` exclusively among the processes that share one relayer account. */
export type NonceLock = <T>(relayer: string, work: () => Promise<T>) => Promise<T>;

/** A transaction request before nonce, gas and fees are filled in. */
export interface SendTransactionParameters {
  /** Contract address; null creates a contract from `data`. */
  to: string | null;
  data: string;
  /** Awaited with the hash after signing and before broadcast. */
  onSigned?: (txHash: string) => Promise<void>;
}

export interface TxSenderOptions {
  provider: JsonRpcProvider;
  wallet: Wallet;
  chainId: bigint;
  /** Persists the raw signed tx before it is broadcast (the embedded chain's journal). */
  journal?: (rawTx: string, txHash: string) => Promise<void>;
  logger: Logger;
  /**
   * Replicas sharing this relayer account: runs nonce assignment, signing and broadcast while no other
   * replica does (a Postgres advisory transaction lock, see relayer-nonce-lock.ts). The nonce is then
   * read from the chain's pending count each time, since another replica may have sent meanwhile.
   */
  nonceLock?: NonceLock;
  receiptTimeoutMs?: number;
  pollIntervalMs?: number;
}

/**
 * The one sender of the relayer account. Transactions go out one at a time (a promise-chain mutex) with
 * a locally tracked nonce, so concurrent callers never race for a nonce; any failure re-reads the nonce.
 */
export class TxSender {
  private tail: Promise<unknown> = Promise.resolve();
  private nextNonce: number | null = null;

  constructor(private readonly options: TxSenderOptions) {}

  /** Signs, journals, broadcasts and waits for the receipt; rejects on revert or an unreachable RPC. */
  send(parameters: SendTransactionParameters): Promise<TransactionReceipt> {
    const run = this.tail.then(() => this.sendNow(parameters));
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Resolves once every queued send has settled. */
  async drain(): Promise<void> {
    await this.tail;
  }

  private async sendNow({ to, data, onSigned }: SendTransactionParameters): Promise<TransactionReceipt> {
    const { provider, wallet, chainId, journal, logger, nonceLock } = this.options;
    let broadcast = false;
    try {
      const from = wallet.address;
      const [estimate, fees] = await Promise.all([
        provider.estimateGas({ from, to, data }),
        provider.getFeeData(),
      ]);
      // Headroom: estimates are exact for this state, but a batch's calldata can cost a little more.
      const gasLimit = (estimate * 120n) / 100n + 10_000n;
      const maxPriorityFeePerGas = fees.maxPriorityFeePerGas ?? 1_000_000_000n;
      const maxFeePerGas = fees.maxFeePerGas ?? (fees.gasPrice ?? 0n) * 2n + maxPriorityFeePerGas;
      const signAndBroadcast = async () => {
        if (nonceLock) this.nextNonce = null;
        this.nextNonce ??= await provider.getTransactionCount(from, 'pending');
        const nonce = this.nextNonce;
        const signedTx = signEip1559(
          { chainId, nonce, to, data, value: 0n, gasLimit, maxFeePerGas, maxPriorityFeePerGas },
          wallet.signingKey,
        );
        if (onSigned) await onSigned(signedTx.hash);
        if (journal) await journal(signedTx.raw, signedTx.hash);
        broadcast = true;
        await this.broadcast(signedTx.raw);
        this.nextNonce = nonce + 1;
        return { txHash: signedTx.hash, nonce };
      };
      const { txHash, nonce } = nonceLock
        ? await nonceLock(from, signAndBroadcast)
        : await signAndBroadcast();
      const receipt = await this.waitForReceipt(txHash);
      logger.debug('ledger tx mined', {
        txHash,
        nonce,
        block: receipt.blockNumber,
        gasUsed: `${receipt.gasUsed}`,
      });
      if (receipt.status !== 1)
        throw new TransactionRevertedError(await this.minedRevertReason(receipt), txHash);
      return receipt;
    } catch (error) {
      if (!(error instanceof TransactionRevertedError && broadcast)) this.nextNonce = null;
      throw toLedgerError(error, 'sending a transaction');
    }
  }

  private async broadcast(raw: string): Promise<void> {
    try {
      await this.options.provider.send('eth_sendRawTransaction', [raw]);
    } catch (error) {
      // The node may have it already (a retry, or the journal replayed it): the receipt decides.
      if (!/already known|already imported/i.test(String((error as Error).message))) throw error;
    }
  }

  private async waitForReceipt(txHash: string): Promise<TransactionReceipt> {
    const { provider, receiptTimeoutMs = 60_000, pollIntervalMs = 50 } = this.options;
    const deadline = Date.now() + receiptTimeoutMs;
    for (;;) {
      const receipt = await provider.getTransactionReceipt(txHash);
      if (receipt) return receipt;
      if (Date.now() > deadline) {
        throw new ServiceUnavailableError(
          `Ledger transaction ${txHash} not mined after ${receiptTimeoutMs} ms`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, pollIntervalMs));
    }
  }

  /** Re-runs a reverted tx as a call at its block to recover the custom error name. */
  private async minedRevertReason(receipt: TransactionReceipt): Promise<string> {
    try {
      const tx = await this.options.provider.getTransaction(receipt.hash);
      if (!tx) return 'reverted';
      await this.options.provider.call({
        from: tx.from,
        to: tx.to,
        data: tx.data,
        blockTag: receipt.blockNumber,
      });
      return 'reverted';
    } catch (error) {
      const data = (error as { data?: string }).data ?? null;
      return revertReason(data, 'reverted');
    }
  }
}
