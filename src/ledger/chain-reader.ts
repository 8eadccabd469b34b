import { JsonRpcProvider, getAddress, isAddress, zeroPadValue } from 'ethers';
import { decodeRecordAnchoredLog, RECORD_ANCHORED_TOPIC } from './anchor-codec.js';
import { omnichartInterface } from './contract-artifact.js';
import type { AnchoredRecord } from './ledger-types.js';

/** What an export reads from the chain: read-only calls, no signer. */
export interface ChainReader {
  readonly chainId: bigint;
  readonly contract: string;
  /** The newest block the RPC knows (a stale RPC shows here: the summary prints it). */
  head(): Promise<{ number: number; timestamp: number }>;
  /** The box public key registered on chain for an account, or null when none is. */
  accountKey(address: string): Promise<Uint8Array | null>;
  /** Every RecordAnchored event of the patient, in chain order (the indexed patient topic filters). */
  anchorsForPatient(patient: string): Promise<AnchoredRecord[]>;
  close(): void;
}

export interface OpenChainReaderParameters {
  rpcUrl: string;
  contract: string;
  /** First block worth scanning (the deployment's); default 0. */
  fromBlock?: number;
}

/**
 * A chain reader over ethers' JsonRpcProvider and the contract ABI: only what an export needs, so
 * it runs without the node's ledger (no relayer key, no deployment, no indexer).
 * @throws Error when the RPC does not answer or no contract code is at the address.
 */
export async function openChainReader(parameters: OpenChainReaderParameters): Promise<ChainReader> {
  if (!isAddress(parameters.contract))
    throw new Error(`--contract is not an address: ${parameters.contract}`);
  const contract = getAddress(parameters.contract);
  const provider = new JsonRpcProvider(parameters.rpcUrl, undefined, { batchMaxCount: 1, polling: false });
  let chainId: bigint;
  try {
    chainId = (await provider.getNetwork()).chainId;
    if ((await provider.getCode(contract)) === '0x') {
      throw new Error(`no contract code at ${contract} on chain ${chainId}`);
    }
  } catch (error) {
    provider.destroy();
    throw new Error(`chain RPC ${parameters.rpcUrl}: ${(error as Error).message.split('\n')[0]}`);
  }
  const fromBlock = parameters.fromBlock ?? 0;
  return {
    chainId,
    contract,
    async head() {
      const block = await provider.getBlock('latest');
      if (!block) throw new Error('the chain RPC has no latest block');
      return { number: block.number, timestamp: block.timestamp };
    },
    async accountKey(address) {
      const data = omnichartInterface.encodeFunctionData('accountKey', [address]);
      const [key] = omnichartInterface.decodeFunctionResult(
        'accountKey',
        await provider.call({ to: contract, data }),
      );
      const bytes = new Uint8Array(Buffer.from((key as string).slice(2), 'hex'));
      return bytes.every((b) => b === 0) ? null : bytes;
    },
    async anchorsForPatient(patient) {
      const logs = await provider.getLogs({
        address: contract,
        topics: [RECORD_ANCHORED_TOPIC, zeroPadValue(getAddress(patient), 32)],
        fromBlock,
        toBlock: 'latest',
      });
      return logs
        .filter((log) => !log.removed)
        .map((log) =>
          decodeRecordAnchoredLog({
            topics: log.topics,
            data: log.data,
            transactionHash: log.transactionHash,
            blockNumber: log.blockNumber,
            index: log.index,
          }),
        )
        .sort((a, b) => a.blockNumber - b.blockNumber || a.logIndex - b.logIndex);
    },
    close: () => provider.destroy(),
  };
}
