import type { DataSource } from 'typeorm';
import type { ChainIndexer } from '../ledger/chain-indexer.js';
import type { LedgerEvent } from '../ledger/chain-events.js';
import type { Ledger } from '../ledger/chain-client.js';
import type { Logger } from '../logger.js';
import { ChainCursorEntity } from '../storage/entities/index.js';

const CURSOR = 'contract-events';

/** Something that applies chain events to the node's cache; handlers must be idempotent. */
export type ChainEventHandler = (event: LedgerEvent) => Promise<void>;
/** The same, for all events of one scanned range at once (set-based work). */
export type ChainBatchHandler = (events: LedgerEvent[]) => Promise<void>;

/**
 * Follows the contract's events from the last block this node applied (kept in Postgres) and hands
 * each one to the handlers: grants relayed by other nodes, records anchored elsewhere, and so on.
 * Dropping the cache resets the cursor, so everything is replayed from the deployment block.
 */
export class ChainSync {
  private indexer?: ChainIndexer;
  private readonly handlers: ChainEventHandler[] = [];
  private readonly batchHandlers: ChainBatchHandler[] = [];

  constructor(
    private readonly options: {
      dataSource: DataSource;
      ledger: Ledger;
      pollIntervalMs: number;
      logger: Logger;
    },
  ) {}

  on(handler: ChainEventHandler): void {
    this.handlers.push(handler);
  }

  onBatch(handler: ChainBatchHandler): void {
    this.batchHandlers.push(handler);
  }

  async start(): Promise<void> {
    const saved = await this.options.dataSource.getRepository(ChainCursorEntity).findOneBy({ name: CURSOR });
    this.indexer = this.options.ledger.createIndexer({
      fromBlock: saved ? saved.blockNumber + 1 : undefined,
      pollIntervalMs: this.options.pollIntervalMs,
      logger: this.options.logger,
      onEvents: (events, toBlock) => this.apply(events, toBlock),
    });
    this.indexer.start();
  }

  /** Applies everything up to the chain head now (a revocation made elsewhere counts on the next request). */
  async catchUp(): Promise<void> {
    await this.indexer?.catchUp();
  }

  async stop(): Promise<void> {
    await this.indexer?.stop();
  }

  private async apply(events: LedgerEvent[], toBlock: number): Promise<void> {
    for (const event of events) {
      for (const handler of this.handlers) await handler(event);
    }
    if (events.length > 0) for (const handler of this.batchHandlers) await handler(events);
    await this.options.dataSource
      .getRepository(ChainCursorEntity)
      .upsert({ name: CURSOR, blockNumber: toBlock }, ['name']);
  }
}
