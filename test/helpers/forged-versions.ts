import { parseEther, Wallet } from 'ethers';
import { CID } from 'multiformats/cid';
import type { OmnichartNode } from '../../src/app.js';
import { openLedger, type Ledger } from '../../src/ledger/chain-client.js';
import type { EmbeddedLedger } from '../../src/ledger/embedded-chain.js';
import { silentLogger } from '../../src/logger.js';
import type { SealedPayload } from '../../src/records/record-service.js';
import type { ContentStore } from '../../src/storage/content-store.js';
import { sealRecord } from '../../src/storage/envelope.js';

/**
 * A second admitted relayer, as a consortium member that turned rogue: the contract owner (the
 * node's relayer) admits a fresh wallet, which then anchors whatever it likes.
 */
export async function openRogueRelayer(node: OmnichartNode): Promise<Ledger> {
  const { anvil } = (node.ledger as EmbeddedLedger).chain;
  const wallet = Wallet.createRandom();
  await anvil.fund(wallet.address, parseEther('10'));
  await node.ledger.setRelayer(wallet.address, true);
  return openLedger({
    rpcUrl: anvil.rpcUrl,
    relayerKey: wallet.privateKey,
    contractAddress: node.ledger.contractAddress,
    logger: silentLogger,
  });
}

/**
 * Seals a payload built by hand for the given box keys and puts the envelope where nodes will find
 * it (as a peer would serve it); returns its CID.
 */
export async function sealForged(
  payload: SealedPayload,
  recipients: Uint8Array[],
  stores: ContentStore[],
): Promise<string> {
  const envelope = sealRecord({
    plaintext: Buffer.from(JSON.stringify(payload)),
    recipients: recipients.map((boxPublicKey) => ({ boxPublicKey })),
  });
  let cid = '';
  for (const store of stores) cid = (await store.put(envelope)).toString();
  return cid;
}

/** Anchors versions in one transaction from the given relayer. */
export function anchorForged(
  relayer: Ledger,
  items: { patient: string; recordId: string; version: number; cid: string }[],
) {
  return relayer.anchorRecords(items.map((item) => ({ ...item, cid: CID.parse(item.cid).bytes })));
}
