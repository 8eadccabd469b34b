import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createNode, type NodeHooks, type OmnichartNode } from '../../src/app.js';
import { buildConfig, type Config, type ConfigOverrides } from '../../src/config.js';
import { silentLogger } from '../../src/logger.js';
import { OmnichartClient, login, newIdentity, register, type Identity } from '../../examples/client.js';
import { createTestDatabase } from './test-database.js';

export interface TestNode {
  node: OmnichartNode;
  config: Config;
  client(): OmnichartClient;
  /** Stops the node and starts it again on the same data dir and database. */
  restart(): Promise<OmnichartNode>;
  /**
   * Stops the node and starts it again on the same data dir (node key, chain, blockstore) but a new,
   * empty database: the old one is dropped, as when an operator throws the cache away.
   */
  restartOnEmptyDatabase(extraHooks?: NodeHooks): Promise<OmnichartNode>;
  close(): Promise<void>;
}

/** A complete node (real Postgres, anvil, Helia) in a temp dir, on a free port. */
export async function startTestNode(
  overrides: Partial<ConfigOverrides> = {},
  hooks: NodeHooks = {},
): Promise<TestNode> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'omnichart-node-'));
  await chmod(dataDir, 0o755);
  let database = await createTestDatabase();
  let config = buildConfig({
    ...overrides,
    dataDir,
    http: { port: 0, ...overrides.http },
    database: { url: database.url },
    keys: { passphrase: 'test-node-passphrase' },
    chain: { anchorIntervalMs: 50, ...overrides.chain },
    logLevel: 'silent',
  });
  let node: OmnichartNode | undefined = await createNode(config, silentLogger, hooks);
  const handle: TestNode = {
    get node() {
      if (!node) throw new Error('node is stopped');
      return node;
    },
    get config() {
      return config;
    },
    client: () => new OmnichartClient(handle.node.url),
    async restart() {
      await node?.close();
      node = undefined;
      node = await createNode(config, silentLogger, hooks);
      return node;
    },
    async restartOnEmptyDatabase(extraHooks = {}) {
      await node?.close();
      node = undefined;
      await database.drop();
      database = await createTestDatabase();
      config = { ...config, database: { ...config.database, url: database.url } };
      node = await createNode(config, silentLogger, { ...hooks, ...extraHooks });
      return node;
    },
    async close() {
      await node?.close();
      node = undefined;
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return handle;
}

export interface SignedInUser {
  identity: Identity;
  client: OmnichartClient;
  address: string;
}

/** Registers a fresh identity with the role and logs it in. */
export async function signIn(
  test: TestNode,
  role: Parameters<typeof register>[2] = 'PATIENT',
): Promise<SignedInUser> {
  const identity = newIdentity();
  const client = test.client();
  await register(client, identity, role, `${role.toLowerCase()} ${identity.wallet.address.slice(2, 8)}`);
  await login(client, identity);
  return { identity, client, address: identity.wallet.address };
}
