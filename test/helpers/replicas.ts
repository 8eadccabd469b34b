import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Wallet, parseEther } from 'ethers';
import { startAnvil, type AnvilProcess } from '../../src/ledger/anvil.js';
import { silentLogger } from '../../src/logger.js';
import { freePort } from '../ledger/helpers.js';
import { killNode, startBuiltNode, type BuiltNode } from './built-node.js';
import { createTestDatabase } from './test-database.js';

/** Replicas of one node: built processes on one database, one anvil, one key file, one relayer key. */
export interface Replicas {
  anvil: AnvilProcess;
  databaseUrl: string;
  contractAddress: string;
  nodes: BuiltNode[];
  /** The base URL (no /graphql) of replica `i`. */
  base(i: number): string;
  /** `kill -9` of replica `i`. */
  kill(i: number): Promise<void>;
  /** Starts one more replica (its own data dir) with `env` on top of the shared settings. */
  startAnother(env: Record<string, string>): Promise<BuiltNode>;
  close(): Promise<void>;
}

interface NodeInfo {
  peerId: string;
  contractAddress: string;
  role: 'leader' | 'follower';
}

export async function nodeInfo(base: string): Promise<NodeInfo> {
  return (await (await fetch(`${base}/node`)).json()) as NodeInfo;
}

/**
 * Starts `count` replicas (the first deploys the contract and creates the node keys; it leads). Each
 * has its own data dir, blockstore and libp2p identity; every later replica dials the first over
 * libp2p, so blocks travel between them by bitswap. `env` is added to every replica's environment.
 */
export async function startReplicas(count: number, env: Record<string, string> = {}): Promise<Replicas> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'omnichart-replicas-'));
  const anvil = await startAnvil({ stateDir: path.join(root, 'anvil'), logger: silentLogger });
  const database = await createTestDatabase('omnichart_replicas_');
  const relayer = Wallet.createRandom();
  await anvil.fund(relayer.address, parseEther('100'));
  const nodes: BuiltNode[] = [];
  const closeAll = async () => {
    for (const node of nodes) await killNode(node).catch(() => undefined);
    await database.drop().catch(() => undefined);
    await anvil.stop().catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  };
  try {
    const shared: Record<string, string> = {
      DATABASE_URL: database.url,
      CHAIN_RPC_URL: anvil.rpcUrl,
      OMNICHART_RELAYER_KEY: relayer.privateKey,
      OMNICHART_REPLICAS: 'on',
      OMNICHART_KEY_PASSPHRASE: 'replica-test-passphrase',
      OMNICHART_NODE_KEYS_FILE: path.join(root, 'node-keys.json'),
      OMNICHART_LEADER_INTERVAL_MS: '250',
      OMNICHART_INDEXER_INTERVAL_MS: '200',
      OMNICHART_ANCHOR_INTERVAL_MS: '50',
      OMNICHART_RATE_LIMITS: 'off',
      OMNICHART_LOG_LEVEL: 'info',
      ...env,
    };
    const ports = await Promise.all(Array.from({ length: count }, () => freePort()));
    const listen = (i: number) => `/ip4/127.0.0.1/tcp/${ports[i]}`;
    const first = await startBuiltNode(path.join(root, 'replica-0'), {
      env: { ...shared, OMNICHART_IPFS_LISTEN: listen(0) },
    });
    nodes.push(first);
    const firstInfo = await nodeInfo(first.url.replace(/\/graphql$/, ''));
    for (let i = 1; i < count; i += 1) {
      nodes.push(
        await startBuiltNode(path.join(root, `replica-${i}`), {
          env: {
            ...shared,
            OMNICHART_CONTRACT_ADDRESS: firstInfo.contractAddress,
            OMNICHART_IPFS_LISTEN: listen(i),
            OMNICHART_IPFS_PEERS: `${listen(0)}/p2p/${firstInfo.peerId}`,
          },
        }),
      );
    }
    return {
      anvil,
      databaseUrl: database.url,
      contractAddress: firstInfo.contractAddress,
      nodes,
      base: (i) => nodes[i].url.replace(/\/graphql$/, ''),
      kill: (i) => killNode(nodes[i]),
      startAnother: async (extra) => {
        const node = await startBuiltNode(path.join(root, `replica-${nodes.length}`), {
          env: { ...shared, OMNICHART_CONTRACT_ADDRESS: firstInfo.contractAddress, ...extra },
        });
        nodes.push(node);
        return node;
      },
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
