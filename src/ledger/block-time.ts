import { ServiceUnavailableError } from '../errors.js';

/** Unix seconds (chain time) of a mined block. */
export type BlockTime = (blockNumber: number) => Promise<number>;

const MAX_CACHED = 4_096;

/**
 * Block timestamps over plain JSON-RPC (`eth_getBlockByNumber`), cached: a mined block's time never
 * changes. Adoption judges a grant's expiry at the anchor block's time, which the Ledger interface does
 * not expose. `rpcUrl` is read on every call so a restarted embedded chain is followed.
 */
export function blockTimeOver(rpcUrl: () => string, timeoutMs = 10_000): BlockTime {
  const cache = new Map<number, number>();
  return async (blockNumber) => {
    const cached = cache.get(blockNumber);
    if (cached !== undefined) return cached;
    let body: { result?: { timestamp?: string } | null; error?: { message?: string } };
    try {
      const response = await fetch(rpcUrl(), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'eth_getBlockByNumber',
          params: [`0x${blockNumber.toString(16)}`, false],
        }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      body = (await response.json()) as typeof body;
    } catch (error) {
      throw new ServiceUnavailableError(
        `Ledger unavailable reading block ${blockNumber}: ${(error as Error).message}`,
      );
    }
    const timestamp = body.result?.timestamp;
    if (typeof timestamp !== 'string') {
      throw new ServiceUnavailableError(
        `Ledger has no block ${blockNumber} (${body.error?.message ?? 'not found'})`,
      );
    }
    const seconds = Number.parseInt(timestamp, 16);
    if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!);
    cache.set(blockNumber, seconds);
    return seconds;
  };
}

/**
 * A block's time as a Date (the local clock when no block clock is given). A chain that cannot say
 * throws, unless `orNow` (a write that already happened on chain should not fail for its date).
 */
export async function timeOfBlock(
  blockTime: BlockTime | undefined,
  blockNumber: number,
  options: { orNow?: boolean } = {},
): Promise<Date> {
  if (!blockTime) return new Date();
  try {
    return new Date((await blockTime(blockNumber)) * 1000);
  } catch (error) {
    if (options.orNow) return new Date();
    throw error;
  }
}
