import { cp, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startAnvil, type AnvilProcess } from '../ledger/anvil.js';
import { silentLogger } from '../logger.js';
import { collectBytes } from '../storage/bytes.js';
import { LevelBlockstore } from '../storage/level-blockstore.js';
import { NotFoundError } from '../errors.js';
import type { BlockSource } from './block-source.js';
import { isProcessAlive } from '../process-alive.js';

/*
 * A stopped node's data dir as chain + IPFS: its chain snapshot and journal (`chain/`) and its
 * blockstore (`blocks/`) are copied to a temporary directory, a throwaway anvil loads the copy, and
 * the copied blockstore is opened. Nothing in the data dir is written: anvil's restore snapshots,
 * LevelDB's open writes a new log, so both only ever see the copies.
 */

export interface DataDirSources {
  rpcUrl: string;
  contract: string;
  fromBlock: number;
  blocks: BlockSource;
  close(): Promise<void>;
}

const CHAIN_FILES = ['state.json', 'journal.ndjson', 'deployment.json'];

/** @throws Error when the node still runs on the data dir or the dir is not a node's. */
export async function openDataDirSources(dataDir: string): Promise<DataDirSources> {
  await refuseWhileRunning(dataDir);
  const deployment = await readDeployment(dataDir);
  const blocksDir = path.join(dataDir, 'blocks');
  if (!(await stat(blocksDir).catch(() => null))?.isDirectory()) {
    throw new Error(`${dataDir} has no blockstore (blocks/): is it an Omnichart data dir?`);
  }
  const work = await mkdtemp(path.join(os.tmpdir(), 'omnichart-export-'));
  let anvil: AnvilProcess | undefined;
  let store: LevelBlockstore | undefined;
  try {
    for (const name of CHAIN_FILES) {
      await cp(path.join(dataDir, 'chain', name), path.join(work, 'chain', name)).catch((error) => {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      });
    }
    await cp(blocksDir, path.join(work, 'blocks'), { recursive: true });
    anvil = await startAnvil({
      stateDir: path.join(work, 'chain'),
      logger: silentLogger,
      snapshotIntervalMs: 3_600_000,
    });
    store = await LevelBlockstore.open(path.join(work, 'blocks'));
  } catch (error) {
    await anvil?.stop();
    await rm(work, { recursive: true, force: true });
    throw error;
  }
  const opened = store;
  const chain = anvil;
  return {
    rpcUrl: chain.rpcUrl,
    contract: deployment.address,
    fromBlock: deployment.blockNumber,
    blocks: {
      async block(cid) {
        if (!(await opened.has(cid))) throw new NotFoundError(`the blockstore does not hold block ${cid}`);
        return collectBytes(opened.get(cid));
      },
      async close() {},
    },
    async close() {
      await opened.close();
      await chain.stop();
      await rm(work, { recursive: true, force: true });
    },
  };
}

/** A running node (or its orphaned anvil, after kill -9) may change what is being copied. */
async function refuseWhileRunning(dataDir: string): Promise<void> {
  const nodePid = await pidIn(path.join(dataDir, 'node.lock'));
  if (nodePid && isProcessAlive(nodePid)) {
    throw new Error(
      `the node (pid ${nodePid}) is still running on ${dataDir}: stop it, or export with --rpc/--contract/--ipfs`,
    );
  }
  const anvilPid = await pidIn(path.join(dataDir, 'chain', 'anvil.pid'));
  if (anvilPid && isProcessAlive(anvilPid) && (await isAnvil(anvilPid))) {
    throw new Error(
      `the node's anvil (pid ${anvilPid}) still runs from an earlier crash: start and stop the node once, or export with --rpc`,
    );
  }
}

async function readDeployment(dataDir: string): Promise<{ address: string; blockNumber: number }> {
  const file = path.join(dataDir, 'chain', 'deployment.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new Error(
      `${dataDir} has no chain/deployment.json: is it an Omnichart data dir with an embedded chain?`,
    );
  }
  const deployment = JSON.parse(text) as { address?: unknown; blockNumber?: unknown };
  if (typeof deployment.address !== 'string' || typeof deployment.blockNumber !== 'number') {
    throw new Error(`${file} does not name a contract address and block`);
  }
  return { address: deployment.address, blockNumber: deployment.blockNumber };
}

async function pidIn(file: string): Promise<number | null> {
  const text = await readFile(file, 'utf8').catch(() => null);
  const pid = text === null ? NaN : Number.parseInt(text, 10);
  return Number.isInteger(pid) && pid > 1 ? pid : null;
}

async function isAnvil(pid: number): Promise<boolean> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => null);
  return cmdline === null || cmdline.includes('anvil'); // no /proc: assume the worst
}
