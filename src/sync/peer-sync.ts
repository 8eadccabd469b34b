import { CID } from 'multiformats/cid';
import { IntegrityError, NotFoundError } from '../errors.js';
import type { LedgerEvent, RecordAnchoredEvent } from '../ledger/chain-events.js';
import type { Logger } from '../logger.js';
import type { RecordService } from '../records/record-service.js';
import type { ContentStore } from '../storage/content-store.js';
import type { HeldVersionStore } from '../storage/held-version-store.js';
import type { PeerNetwork } from './peer-network.js';

/** Records adopted at once (each record's versions stay in order). */
const ADOPTION_CONCURRENCY = 8;

/** What became of one RecordAnchored event this node did not hold. */
export type AnchoredVersionOutcome = 'adopted' | 'missing' | 'refused';

/**
 * One unified view across nodes: record versions anchored elsewhere are adopted from the chain's
 * events, their envelopes fetched from peers. (Accounts come whole from their AccountRegistered events.)
 * A lone node runs it too: after its cache was dropped, its own versions are adopted from its own
 * blockstore under the same checks as a peer's (see docs/security.md, "Rebuilding the cache").
 */
export class PeerSync {
  constructor(
    private readonly options: {
      heldVersions: HeldVersionStore;
      peers: PeerNetwork;
      content: ContentStore;
      records: RecordService;
      logger: Logger;
      /** Told what became of each version not held here (the rebuild counts them). */
      onOutcome?: (outcome: AnchoredVersionOutcome, event: RecordAnchoredEvent) => void;
    },
  ) {}

  async apply(events: LedgerEvent[]): Promise<void> {
    const anchored = events.filter((e): e is RecordAnchoredEvent => e.type === 'RecordAnchored');
    if (anchored.length === 0) return;
    const held = await this.options.heldVersions.heldOf(anchored);
    // One record's versions in chain order; different records side by side, so a replay of many
    // records overlaps blockstore reads, decryption and Postgres round trips.
    const byRecord = new Map<string, RecordAnchoredEvent[]>();
    for (const event of anchored) {
      if (held.has(`${event.recordId}:${event.version}`)) continue;
      const versions = byRecord.get(event.recordId) ?? [];
      versions.push(event);
      byRecord.set(event.recordId, versions);
    }
    const queue = [...byRecord.values()];
    const worker = async () => {
      for (let versions = queue.shift(); versions; versions = queue.shift()) {
        for (const event of versions) await this.adoptRecord(event);
      }
    };
    await Promise.all(Array.from({ length: Math.min(ADOPTION_CONCURRENCY, queue.length) }, worker));
  }

  private async adoptRecord(event: RecordAnchoredEvent): Promise<void> {
    const cid = CID.decode(event.cid);
    try {
      const envelope = await this.options.content.get(cid);
      const outcome = await this.options.records.adoptAnchoredVersion({
        envelope,
        cid: cid.toString(),
        patient: event.patient.toLowerCase(),
        recordId: event.recordId,
        version: event.version,
        anchorTx: event.txHash,
        anchorBlock: event.blockNumber,
      });
      if (outcome.adopted) this.options.onOutcome?.('adopted', event);
      else if (outcome.quarantined) this.options.onOutcome?.('refused', event);
    } catch (error) {
      // Not wrapped for this node, or no peer holds it: nothing this node can index.
      if (!(error instanceof IntegrityError || error instanceof NotFoundError)) throw error;
      this.options.onOutcome?.('missing', event);
      this.options.logger.debug('record anchored elsewhere not adopted', {
        recordId: event.recordId,
        version: event.version,
        error: error.message,
      });
    }
  }
}
