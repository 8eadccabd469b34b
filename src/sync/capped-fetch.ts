/** A peer's reply body was over the byte limit; the transfer was aborted there. */
export class ReplyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`reply body is over the ${limit}-byte limit`);
    this.name = 'ReplyTooLargeError';
  }
}

export interface CappedFetchOptions {
  /** Largest body accepted; the transfer is aborted as soon as more arrives. */
  maxBytes: number;
  /** Bound on the whole exchange: connecting, headers and every byte of the body. */
  timeoutMs: number;
  /** The Accept header to send, if any. */
  accept?: string;
}

export interface CappedReply {
  status: number;
  contentType: string | null;
  body: Uint8Array;
}

/**
 * GET `url` and read its body chunk by chunk, so a peer cannot make this node buffer more than
 * `maxBytes` (a chunked reply has no content-length to refuse up front) nor stall it past `timeoutMs`
 * (a trickling body would keep a headers-only timeout happy forever).
 */
export async function cappedFetch(url: string, options: CappedFetchOptions): Promise<CappedReply> {
  const abort = new AbortController();
  const timer = setTimeout(
    () => abort.abort(new Error(`no complete reply within ${options.timeoutMs} ms`)),
    options.timeoutMs,
  );
  try {
    const response = await fetch(url, {
      signal: abort.signal,
      redirect: 'error',
      headers: options.accept ? { accept: options.accept } : undefined,
    });
    const declared = Number(response.headers.get('content-length') ?? NaN);
    if (declared > options.maxBytes) throw new ReplyTooLargeError(options.maxBytes);
    const body = await readCapped(response, options.maxBytes);
    return { status: response.status, contentType: response.headers.get('content-type'), body };
  } catch (error) {
    // An abort by the timer surfaces as the timer's reason; say so rather than "operation aborted".
    throw abort.signal.aborted && !(error instanceof ReplyTooLargeError) ? abort.signal.reason : error;
  } finally {
    clearTimeout(timer);
    // Frees the socket of a reply left unread (over the cap, or an error mid-body).
    abort.abort();
  }
}

async function readCapped(response: Response, maxBytes: number): Promise<Uint8Array> {
  if (!response.body) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new ReplyTooLargeError(maxBytes);
    }
    chunks.push(value);
  }
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}
