import { Wallet, parseEther } from 'ethers';
import type { ConfigOverrides } from '../../src/config.js';
import type { EmbeddedLedger } from '../../src/ledger/embedded-chain.js';
import { freePort } from '../ledger/helpers.js';
import { startTestNode, type TestNode } from './test-node.js';

/**
 * Two nodes of one network on one anvil, each the other's peer: A deploys the contract (and owns it);
 * the consortium admits B's relayer (funded, made a relayer by A). Both listen on loopback over plain
 * http, which peers may use only with the flag.
 */
export async function startTwoNodes(
  overridesA: Partial<ConfigOverrides> = {},
  overridesB: Partial<ConfigOverrides> = {},
): Promise<{ a: TestNode; b: TestNode }> {
  const bPort = await freePort();
  const a = await startTestNode({
    ...overridesA,
    peers: [`http://127.0.0.1:${bPort}`],
    peersAllowHttp: true,
    chain: { indexerIntervalMs: 100, ...overridesA.chain },
  });
  try {
    const chain = (a.node.ledger as EmbeddedLedger).chain;
    const bRelayer = Wallet.createRandom();
    await chain.anvil.fund(bRelayer.address, parseEther('10'));
    await a.node.ledger.setRelayer(bRelayer.address, true);
    const b = await startTestNode({
      ...overridesB,
      http: { port: bPort },
      peers: [a.node.url.replace(/\/graphql$/, '')],
      peersAllowHttp: true,
      chain: {
        rpcUrl: chain.anvil.rpcUrl,
        relayerKey: bRelayer.privateKey,
        contractAddress: a.node.ledger.contractAddress,
        indexerIntervalMs: 100,
        ...overridesB.chain,
      },
    });
    return { a, b };
  } catch (error) {
    await a.close();
    throw error;
  }
}
