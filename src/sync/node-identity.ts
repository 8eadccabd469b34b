import type { Ledger } from '../ledger/chain-client.js';
import type { Logger } from '../logger.js';
import type { NodeKeys } from '../storage/node-keys.js';

/**
 * Publishes this node's box key on chain under its relayer address, so other nodes can wrap record
 * keys for it. Only a relayer of the contract may; others are told how to become one.
 */
export async function publishNodeKey(ledger: Ledger, keys: NodeKeys, logger: Logger): Promise<void> {
  if (!(await ledger.isRelayer(ledger.relayerAddress))) {
    logger.warn('this node is not a relayer of the contract: the owner must call setRelayer for it', {
      relayer: ledger.relayerAddress,
    });
    return;
  }
  const current = await ledger.accountKey(ledger.relayerAddress);
  if (current && Buffer.from(current).equals(Buffer.from(keys.boxPublicKey))) return;
  await ledger.registerNodeKey(keys.boxPublicKey);
  logger.info('node key published on chain', { relayer: ledger.relayerAddress });
}
