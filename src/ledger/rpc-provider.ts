import { JsonRpcProvider, type JsonRpcPayload, type JsonRpcResult, type Network } from 'ethers';
import { ServiceUnavailableError } from '../errors.js';

/**
 * ethers' JsonRpcProvider over Node's own fetch and JSON. ethers' transport converts each request and
 * response between strings and UTF-8 bytes in JavaScript; with an anchoring batch's 128 KB of hex
 * going out three times (estimate, journal-backed broadcast) that was a large share of the node's
 * main-thread time. Errors keep the shapes `isConnectionError` and ethers' error mapping expect:
 * transport failures reject with fetch's own error ("fetch failed", a timeout), JSON-RPC errors
 * (reverts) come back in the result for ethers to decode, and any other HTTP status is
 * SERVICE_UNAVAILABLE.
 */
export class FetchJsonRpcProvider extends JsonRpcProvider {
  constructor(
    private readonly url: string,
    private readonly timeoutMs: number,
    network: Network,
    options: ConstructorParameters<typeof JsonRpcProvider>[2],
  ) {
    super(url, network, options);
  }

  override async _send(payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> {
    const response = await fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (!response.ok) {
      await response.body?.cancel();
      throw new ServiceUnavailableError(`Ledger unavailable: the chain RPC answered HTTP ${response.status}`);
    }
    const body = (await response.json()) as JsonRpcResult | JsonRpcResult[];
    return Array.isArray(body) ? body : [body];
  }
}
