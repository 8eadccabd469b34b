import path from 'node:path';
import { Wallet, parseEther } from 'ethers';
import type { Logger } from '../logger.js';
import { startAnvil, type AnvilProcess, type StartAnvilParameters } from './anvil.js';
import { openLedger, type Ledger } from './chain-client.js';

/** The snapshot settings are passed to startAnvil (tests shorten them). */
export interface OpenEmbeddedLedgerParameters extends Pick<
  StartAnvilParameters,
  'snapshotIntervalMs' | 'snapshotJournalEntries'
> {
  /** The node's data directory; the chain lives in `<dataDir>/chain`. */
  dataDir: string;
  /** The relayer's private key; it is funded on every start. */
  relayerKey: string;
  logger: Logger;
}

/** Controls the embedded anvil under a ledger (tests stop and restart the chain with it). */
export interface EmbeddedChain {
  /** The anvil currently running (a new object after restart). */
  readonly anvil: AnvilProcess;
  /** Stops anvil (with a snapshot); the ledger stays and reports SERVICE_UNAVAILABLE until restart. */
  stop(): Promise<void>;
  /** Starts anvil again on the same port and state dir (after stop, or after the child died). */
  restart(): Promise<void>;
}

/** The ledger over an anvil spawned and persisted in the data dir; close() also stops anvil. */
export interface EmbeddedLedger extends Ledger {
  readonly chain: EmbeddedChain;
}

const relayerBalance = parseEther('100');

/** Starts (or recovers) the embedded chain, funds the relayer, deploys the contract on first start. */
export async function openEmbeddedLedger(parameters: OpenEmbeddedLedgerParameters): Promise<EmbeddedLedger> {
  const { dataDir, relayerKey, logger, snapshotIntervalMs, snapshotJournalEntries } = parameters;
  const snapshots = { snapshotIntervalMs, snapshotJournalEntries };
  const stateDir = path.join(dataDir, 'chain');
  const relayer = new Wallet(relayerKey).address;
  let anvil = await startAnvil({ stateDir, logger, ...snapshots });
  const port = anvil.port;

  const chain: EmbeddedChain = {
    get anvil() {
      return anvil;
    },
    stop: () => anvil.stop(),
    async restart() {
      await anvil.stop();
      anvil = await startAnvil({ stateDir, logger, port, ...snapshots });
      await anvil.fund(relayer, relayerBalance);
    },
  };

  try {
    await anvil.fund(relayer, relayerBalance);
    const ledger = await openLedger({
      rpcUrl: anvil.rpcUrl,
      relayerKey,
      deploymentFile: path.join(stateDir, 'deployment.json'),
      // Through the variable, so a restarted anvil journals too.
      journal: (rawTx, txHash) => anvil.journal(rawTx, txHash),
      logger,
      // Through the variable, so close() stops whichever anvil is running then.
      onClose: () => anvil.stop(),
    });
    return Object.assign(ledger, { chain });
  } catch (error) {
    await anvil.stop();
    throw error;
  }
}
