import { CID } from 'multiformats/cid';
import { NotFoundError, ServiceUnavailableError } from '../errors.js';
import type { BlockSource } from './block-source.js';

/** Larger than any block Omnichart writes (256 KiB chunks, or a dag-pb node of 174 links). */
const MAX_BLOCK_BYTES = 2 * 1024 * 1024;
const TIMEOUT_MS = 30_000;

/**
 * Blocks from an IPFS trustless gateway (`GET /ipfs/<cid>?format=raw`, `Accept:
 * application/vnd.ipld.raw`), as any IPFS gateway or an Omnichart node serves them. Whole files from
 * a gateway could only be checked after the fact by re-chunking; raw blocks are checked one by one.
 */
export function gatewayBlockSource(baseUrl: string): BlockSource {
  const base = new URL(baseUrl);
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new Error(`--ipfs must be an http(s) URL, got ${baseUrl}`);
  }
  const root = base.href.endsWith('/') ? base.href : `${base.href}/`;
  return {
    async block(cid, options) {
      const url = new URL(`ipfs/${cid.toString()}?format=raw`, root);
      const signal = options?.signal
        ? AbortSignal.any([options.signal, AbortSignal.timeout(TIMEOUT_MS)])
        : AbortSignal.timeout(TIMEOUT_MS);
      let response: Response | undefined;
      // A GET is safe to repeat: one retry covers a kept-alive connection the gateway closed meanwhile.
      for (let attempt = 1; !response; attempt += 1) {
        try {
          response = await fetch(url, { headers: { accept: 'application/vnd.ipld.raw' }, signal });
        } catch (error) {
          if (attempt < 2 && !signal.aborted) continue;
          const cause = (error as { cause?: { code?: string } }).cause?.code;
          throw new ServiceUnavailableError(
            `IPFS gateway unreachable for ${cid}: ${(error as Error).message}${cause ? ` (${cause})` : ''}`,
          );
        }
      }
      if (response.status === 404) {
        await response.body?.cancel();
        throw new NotFoundError(`the gateway does not hold block ${cid}`);
      }
      if (!response.ok) {
        await response.body?.cancel();
        throw new ServiceUnavailableError(`IPFS gateway answered HTTP ${response.status} for ${cid}`);
      }
      return readLimited(response, cid);
    },
    async close() {},
  };
}

/** Reads the body, cut off at MAX_BLOCK_BYTES while it streams (a gateway may send anything). */
async function readLimited(response: Response, cid: CID): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength;
    if (total > MAX_BLOCK_BYTES) {
      await response.body?.cancel().catch(() => undefined);
      throw new ServiceUnavailableError(
        `the gateway sent more than ${MAX_BLOCK_BYTES} bytes for block ${cid}`,
      );
    }
    chunks.push(chunk);
  }
  return new Uint8Array(Buffer.concat(chunks));
}
