/**
 * The ledger tests run on two EVM implementations: the embedded anvil (what `npm start` uses) and
 * Hardhat's network (EDR), started as `hardhat node` with a different chain id. Everything a test does
 * through `TestChain` is plain Ethereum JSON-RPC, so a passing run on both shows the ledger code does
 * not lean on anvil-only behaviour outside the embedded mode.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { JsonRpcProvider, Network, Wallet } from 'ethers';
import { openLedger, type Ledger } from '../../src/ledger/chain-client.js';
import { openEmbeddedLedger, type EmbeddedLedger } from '../../src/ledger/embedded-chain.js';
import { silentLogger } from '../../src/logger.js';
import { freePort, tempDir } from '../ledger/helpers.js';

export const chainKinds = ['anvil', 'hardhat'] as const;
export type ChainKind = (typeof chainKinds)[number];

export interface TestChain {
  readonly kind: ChainKind;
  readonly ledger: Ledger;
  readonly rpcUrl: string;
  /** A provider on the chain for checks the ledger does not expose (receipts, code, nonces). */
  readonly provider: JsonRpcProvider;
  /** The embedded chain's controls (stop, restart, snapshots); null on Hardhat. */
  readonly embedded: EmbeddedLedger | null;
  /** Sends `wei` to `address` with an ordinary signed transfer from a funded account. */
  fund(address: string, wei: bigint): Promise<void>;
  close(): Promise<void>;
}

/** Hardhat's chain id in test/hardhat/hardhat.config.cjs; unlike anvil's 31337 on purpose. */
export const HARDHAT_CHAIN_ID = 1337n;

/**
 * Account #0 of Hardhat's default development mnemonic ("test test … junk"), funded with 10,000 ETH
 * on every `hardhat node`: a published, well-known key that exists only on development chains.
 */
const HARDHAT_FUNDED_KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';
const RELAYER_FUNDS = 100n * 10n ** 18n;

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** Opens a ledger whose relayer is `relayerKey` (funded) on a fresh chain of `kind`. */
export async function openTestChain(kind: ChainKind, relayerKey: string): Promise<TestChain> {
  return kind === 'anvil' ? openAnvilChain(relayerKey) : openHardhatChain(relayerKey);
}

async function openAnvilChain(relayerKey: string): Promise<TestChain> {
  const temp = await tempDir('chain');
  const embedded = await openEmbeddedLedger({ dataDir: temp.dir, relayerKey, logger: silentLogger });
  const rpcUrl = embedded.chain.anvil.rpcUrl;
  const provider = providerFor(rpcUrl, embedded.chainId);
  return {
    kind: 'anvil',
    ledger: embedded,
    rpcUrl,
    provider,
    embedded,
    fund: (address, wei) => embedded.chain.anvil.fund(address, wei),
    async close() {
      provider.destroy();
      await embedded.close();
      await temp.remove();
    },
  };
}

/** A running `hardhat node` and a way to fund accounts on it with ordinary signed transfers. */
export interface HardhatNetwork {
  readonly rpcUrl: string;
  readonly provider: JsonRpcProvider;
  fund(address: string, wei: bigint): Promise<void>;
  stop(): Promise<void>;
}

export async function startHardhatNetwork(): Promise<HardhatNetwork> {
  const node = await startHardhatNode();
  const provider = providerFor(node.rpcUrl, HARDHAT_CHAIN_ID);
  const funder = new Wallet(HARDHAT_FUNDED_KEY, provider);
  // One sender for every transfer, so nonces are assigned in order.
  let transfers: Promise<unknown> = Promise.resolve();
  return {
    rpcUrl: node.rpcUrl,
    provider,
    fund(address, wei) {
      const next = transfers.then(async () => {
        const tx = await funder.sendTransaction({ to: address, value: wei });
        await tx.wait();
      });
      transfers = next.catch(() => undefined);
      return next;
    },
    async stop() {
      provider.destroy();
      await node.stop();
    },
  };
}

async function openHardhatChain(relayerKey: string): Promise<TestChain> {
  const network = await startHardhatNetwork();
  try {
    await network.fund(new Wallet(relayerKey).address, RELAYER_FUNDS);
    const temp = await tempDir('hardhat-deployment');
    const ledger = await openLedger({
      rpcUrl: network.rpcUrl,
      relayerKey,
      deploymentFile: path.join(temp.dir, 'deployment.json'),
      logger: silentLogger,
    });
    return {
      kind: 'hardhat',
      ledger,
      rpcUrl: network.rpcUrl,
      provider: network.provider,
      embedded: null,
      fund: network.fund,
      async close() {
        await ledger.close();
        await network.stop();
        await temp.remove();
      },
    };
  } catch (error) {
    await network.stop();
    throw error;
  }
}

function providerFor(rpcUrl: string, chainId: bigint): JsonRpcProvider {
  const network = Network.from(chainId);
  return new JsonRpcProvider(rpcUrl, network, { staticNetwork: network, cacheTimeout: -1 });
}

interface HardhatNode {
  rpcUrl: string;
  stop(): Promise<void>;
}

/** `hardhat node` on a free loopback port; resolves once it prints that its server started. */
async function startHardhatNode(timeoutMs = 60_000): Promise<HardhatNode> {
  const port = await freePort();
  const cli = path.join(path.dirname(require.resolve('hardhat/package.json')), 'internal/cli/bootstrap.js');
  const child = spawn(
    process.execPath,
    [
      cli,
      '--config',
      path.join(here, '../hardhat/hardhat.config.cjs'),
      'node',
      '--hostname',
      '127.0.0.1',
      '--port',
      `${port}`,
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HARDHAT_DISABLE_TELEMETRY_PROMPT: 'true', NODE_OPTIONS: '' },
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitForServer(child, timeoutMs);
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    throw error;
  }
  return {
    rpcUrl: `http://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

function waitForServer(child: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(
      () => reject(new Error(`hardhat node did not start: ${output.slice(-2000)}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Started HTTP')) {
        clearTimeout(timer);
        // Drain further output (the account list, request logs) so the pipe never fills.
        child.stdout?.removeListener('data', onData);
        child.stdout?.resume();
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => void (output += chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`hardhat node exited (${code}): ${output.slice(-2000)}`));
    });
  });
}
