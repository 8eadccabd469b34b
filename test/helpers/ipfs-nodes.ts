import { Wallet, parseEther } from 'ethers';
import type { EmbeddedLedger } from '../../src/ledger/embedded-chain.js';
import { startTestNode, type TestNode } from './test-node.js';

/**
 * Nodes of one network on one anvil that share blocks over libp2p only: no `peers` (HTTP) at all.
 * Node 0 deploys the contract and listens; every later node dials all earlier ones by their
 * multiaddr (with peer id) and listens on its own loopback port. Each names the others' relayers in
 * `peerRelayers`, so record keys are wrapped for them. The relayers are created before node 0
 * starts, so it can name them too; node 0 admits and funds them.
 */
export async function startIpfsNodes(count: number, fetchTimeoutMs = 5_000): Promise<TestNode[]> {
  const relayers = Array.from({ length: count - 1 }, () => Wallet.createRandom());
  const nodes: TestNode[] = [];
  try {
    const first = await startTestNode({
      peerRelayers: relayers.map((r) => r.address.toLowerCase()),
      ipfs: { listen: ['/ip4/127.0.0.1/tcp/0'], fetchTimeoutMs },
      chain: { indexerIntervalMs: 100 },
    });
    nodes.push(first);
    const chain = (first.node.ledger as EmbeddedLedger).chain;
    const relayerOfFirst = first.node.ledger.relayerAddress.toLowerCase();
    for (const relayer of relayers) {
      await chain.anvil.fund(relayer.address, parseEther('10'));
      await first.node.ledger.setRelayer(relayer.address, true);
      const others = [
        relayerOfFirst,
        ...relayers.filter((r) => r !== relayer).map((r) => r.address.toLowerCase()),
      ];
      nodes.push(
        await startTestNode({
          peerRelayers: others,
          ipfs: {
            listen: ['/ip4/127.0.0.1/tcp/0'],
            peers: nodes.flatMap((n) => n.node.content.listenAddresses()),
            fetchTimeoutMs,
          },
          chain: {
            rpcUrl: chain.anvil.rpcUrl,
            relayerKey: relayer.privateKey,
            contractAddress: first.node.ledger.contractAddress,
            indexerIntervalMs: 100,
          },
        }),
      );
    }
    return nodes;
  } catch (error) {
    for (const node of nodes.reverse()) await node.close();
    throw error;
  }
}
