import type { JsonRpcProvider, Result, TransactionReceipt } from 'ethers';

/** What the consent and anchor calls need from the ledger: reads, the one sender, raw RPC. */
export interface ContractAccess {
  readonly provider: JsonRpcProvider;
  readonly chainId: bigint;
  readonly contractAddress: string;
  /** The contract's deployment block (first block worth scanning for events). */
  readonly fromBlock: number;
  /** eth_call of a view function, decoded; chain errors mapped like every ledger error. */
  read(functionName: string, args: readonly unknown[], action: string): Promise<Result>;
  /** A transaction through the ledger's one serialized sender (and the chain journal). */
  write(functionName: string, args: readonly unknown[]): Promise<TransactionReceipt>;
  /** Any other RPC call with the same error mapping. */
  rpc<T>(action: string, call: () => Promise<T>): Promise<T>;
}
