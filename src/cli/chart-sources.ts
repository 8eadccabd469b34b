import { openChainReader, type ChainReader } from '../ledger/chain-reader.js';
import type { BlockSource } from '../export/block-source.js';
import { gatewayBlockSource } from '../export/gateway-block-source.js';
import { exportChart, type ChartExport } from '../export/patient-export.js';
import { bytesEqual } from '../storage/bytes.js';
import { UsageError } from './cli-args.js';
import type { PatientKeys } from './key-file.js';

/** The options export and verify share: where the chain and the blocks are. */
export const sourceOptions = {
  rpc: { type: 'string' },
  contract: { type: 'string' },
  ipfs: { type: 'string' },
  'data-dir': { type: 'string' },
  'from-block': { type: 'string' },
} as const;

export const sourceUsage = `  either --rpc URL --contract ADDRESS --ipfs URL   a chain JSON-RPC, the Omnichart contract, an IPFS
                                                  trustless gateway (e.g. a node's base URL)
  or     --data-dir DIR                            a stopped node's data dir (embedded chain + blockstore)
  --from-block N                                  first block to scan with --rpc (default 0)`;

export interface ChartSources {
  chain: ChainReader;
  blocks: BlockSource;
  close(): Promise<void>;
}

type SourceValues = { [K in keyof typeof sourceOptions]?: string };

/** Checks the combination first (UsageError, exit 2), then opens chain and blocks. */
export async function openChartSources(values: SourceValues): Promise<ChartSources> {
  const remote = [values.rpc, values.contract, values.ipfs];
  if (values['data-dir'] !== undefined) {
    if (remote.some((v) => v !== undefined)) {
      throw new UsageError('give either --data-dir or --rpc/--contract/--ipfs, not both');
    }
    // Loaded only here: the blockstore and anvil modules cost ~0.3 s of start-up an RPC export does not need.
    const { openDataDirSources } = await import('../export/data-dir-sources.js');
    const dir = await openDataDirSources(values['data-dir']);
    try {
      const chain = await openChainReader({
        rpcUrl: dir.rpcUrl,
        contract: dir.contract,
        fromBlock: dir.fromBlock,
      });
      return { chain, blocks: dir.blocks, close: async () => (chain.close(), await dir.close()) };
    } catch (error) {
      await dir.close();
      throw error;
    }
  }
  if (remote.some((v) => v === undefined)) {
    throw new UsageError('give --rpc URL, --contract ADDRESS and --ipfs URL together (or --data-dir DIR)');
  }
  const fromBlock = values['from-block'] === undefined ? 0 : Number(values['from-block']);
  if (!Number.isSafeInteger(fromBlock) || fromBlock < 0)
    throw new UsageError('--from-block must be a block number');
  for (const [name, url] of [
    ['--rpc', values.rpc!],
    ['--ipfs', values.ipfs!],
  ] as const) {
    if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
      throw new UsageError(`${name} must be an http(s) URL, got ${url}`);
    }
  }
  if (!/^0x[0-9a-fA-F]{40}$/.test(values.contract!))
    throw new UsageError(`--contract is not an address: ${values.contract}`);
  const blocks = gatewayBlockSource(values.ipfs!);
  const chain = await openChainReader({ rpcUrl: values.rpc!, contract: values.contract!, fromBlock });
  return { chain, blocks, close: async () => chain.close() };
}

/** The patient's chart as chain + IPFS hold it, verified; refused before decrypting with a key not on chain. */
export async function chartOfKey(sources: ChartSources, keys: PatientKeys): Promise<ChartExport> {
  await checkRegisteredKey(sources, keys);
  return exportChart({
    chain: sources.chain,
    blocks: sources.blocks,
    patient: keys.address,
    boxSecretKey: keys.boxSecretKey,
  });
}

/**
 * The key file's box key must be the one the chain holds for its address: otherwise it is another
 * patient's, or a stale pair, and nothing is decrypted.
 */
async function checkRegisteredKey(sources: ChartSources, keys: PatientKeys): Promise<void> {
  const registered = await sources.chain.accountKey(keys.address);
  if (!registered) {
    throw new Error(
      `no account is registered on chain ${sources.chain.chainId} (contract ${sources.chain.contract}) for ${keys.address}: wrong key file or wrong chain?`,
    );
  }
  if (!bytesEqual(registered, keys.boxPublicKey)) {
    throw new Error(
      `the key file's boxPublicKey is not the box key registered on chain for ${keys.address} ` +
        `(${Buffer.from(registered).toString('base64')}): wrong key file; nothing was decrypted`,
    );
  }
}
