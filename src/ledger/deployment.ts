import { readFile } from 'node:fs/promises';
import { isError, type JsonRpcProvider } from 'ethers';
import type { Logger } from '../logger.js';
import { omnichartArtifact, omnichartInterface } from './contract-artifact.js';
import { writeFileDurably } from '../durable-file.js';
import { toAddress } from './ids.js';
import type { TxSender } from './tx-sender.js';

/** What `deployment.json` records about the deployed contract. */
export interface DeploymentRecord {
  address: string;
  chainId: string;
  txHash: string;
  blockNumber: number;
}

export interface ResolveContractParameters {
  provider: JsonRpcProvider;
  sender: TxSender;
  chainId: bigint;
  contractAddress?: string;
  deploymentFile?: string;
  logger: Logger;
}

/** The contract to use and the first block worth scanning for its events. */
export interface ResolveContractReturnType {
  address: string;
  fromBlock: number;
}

/**
 * A configured address must have code; otherwise reuse the deployment file's contract when its code is
 * still on this chain, and deploy (recording it) when not.
 */
export async function resolveContract(
  parameters: ResolveContractParameters,
): Promise<ResolveContractReturnType> {
  const { provider, sender, chainId, contractAddress, deploymentFile, logger } = parameters;
  if (contractAddress) {
    const address = toAddress(contractAddress, 'contractAddress');
    if (!(await hasCode(provider, address))) {
      throw new Error(`No contract code at the configured contract address ${address} on chain ${chainId}`);
    }
    if (!(await hasCurrentAbi(provider, address))) {
      throw new Error(
        `The contract at ${address} is an older Omnichart without consent, audit and model anchors`,
      );
    }
    return { address, fromBlock: 0 };
  }
  const recorded = deploymentFile ? await readDeployment(deploymentFile) : null;
  const usable =
    recorded && BigInt(recorded.chainId) === chainId && (await hasCode(provider, recorded.address));
  if (recorded && usable && (await hasCurrentAbi(provider, recorded.address))) {
    return { address: recorded.address, fromBlock: recorded.blockNumber };
  }
  if (recorded && usable) {
    // A data dir from before consent existed: its contract cannot take grants, so start a new one.
    logger.warn('recorded contract is an older version; deploying the current one', {
      address: recorded.address,
    });
  } else if (recorded) {
    logger.warn('recorded contract not found on chain; redeploying', { address: recorded.address });
  }
  const receipt = await sender.send({ to: null, data: omnichartArtifact.bytecode });
  if (!receipt.contractAddress) throw new Error(`Deployment tx ${receipt.hash} created no contract`);
  const deployment: DeploymentRecord = {
    address: receipt.contractAddress,
    chainId: chainId.toString(),
    txHash: receipt.hash,
    blockNumber: receipt.blockNumber,
  };
  if (deploymentFile) await writeFileDurably(deploymentFile, JSON.stringify(deployment, null, 2) + '\n');
  logger.info('Omnichart contract deployed', { ...deployment });
  return { address: deployment.address, fromBlock: deployment.blockNumber };
}

async function hasCode(provider: JsonRpcProvider, address: string): Promise<boolean> {
  const code = await provider.getCode(address);
  return code !== '0x';
}

/** True when the contract answers the newest view (an older version has no such function and reverts). */
async function hasCurrentAbi(provider: JsonRpcProvider, address: string): Promise<boolean> {
  const data = omnichartInterface.encodeFunctionData('modelAnchor', [`0x${'00'.repeat(32)}`]);
  try {
    omnichartInterface.decodeFunctionResult('modelAnchor', await provider.call({ to: address, data }));
    return true;
  } catch (error) {
    if (isError(error, 'CALL_EXCEPTION') || isError(error, 'BAD_DATA')) return false;
    throw error;
  }
}

async function readDeployment(file: string): Promise<DeploymentRecord | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  return JSON.parse(text) as DeploymentRecord;
}
