import type { Ledger } from '../ledger/chain-client.js';
import type { Logger } from '../logger.js';
import type { NodeKeys } from '../storage/node-keys.js';

/** A replica whose node keys are not the ones its relayer published: it would be another node. */
export class ReplicaKeyMismatchError extends Error {
  readonly code = 'REPLICA_KEY_MISMATCH';
  constructor(relayer: string) {
    super(
      `the chain holds another box key for relayer ${relayer}: every replica of a node must load the same ` +
        'node keys (OMNICHART_NODE_KEYS_FILE and OMNICHART_KEY_PASSPHRASE); refusing to start',
    );
    this.name = 'ReplicaKeyMismatchError';
  }
}

/**
 * Publishes this node's box key on chain under its relayer address, so other nodes can wrap record
 * keys for it. Only a relayer of the contract may; others are told how to become one. A replica
 * (`replica: true`) never replaces a published key: a different one means it was given other keys.
 */
export async function publishNodeKey(
  ledger: Ledger,
  keys: NodeKeys,
  logger: Logger,
  options: { replica?: boolean } = {},
): Promise<void> {
  if (!(await ledger.isRelayer(ledger.relayerAddress))) {
    logger.warn('this node is not a relayer of the contract: the owner must call setRelayer for it', {
      relayer: ledger.relayerAddress,
    });
    return;
  }
  const current = await ledger.accountKey(ledger.relayerAddress);
  if (current && Buffer.from(current).equals(Buffer.from(keys.boxPublicKey))) return;
  if (current && options.replica) throw new ReplicaKeyMismatchError(ledger.relayerAddress);
  await ledger.registerNodeKey(keys.boxPublicKey);
  logger.info('node key published on chain', { relayer: ledger.relayerAddress });
}
