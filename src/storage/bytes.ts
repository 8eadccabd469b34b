/** Joins chunks into one array (a single chunk is returned as is, without copying). */
export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/** Collects a (sync or async) stream of chunks into one array. */
export async function collectBytes(
  source: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of source) chunks.push(chunk);
  return concatBytes(chunks);
}

/** Standard base64 with padding. */
export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/**
 * Decodes canonical base64 only, or returns undefined. Node's decoder skips stray characters and
 * ignores padding bits, so a tampered string could otherwise decode to the same bytes.
 */
export function fromBase64Strict(text: unknown, expectedLength?: number): Uint8Array | undefined {
  if (typeof text !== 'string') return undefined;
  const buf = Buffer.from(text, 'base64');
  if (buf.toString('base64') !== text) return undefined;
  if (expectedLength !== undefined && buf.byteLength !== expectedLength) return undefined;
  // Copy out of Node's shared Buffer pool so secrets do not share a slab with unrelated data.
  return Uint8Array.from(buf);
}

/** Constant-time equality for secrets and public keys alike. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let diff = 0;
  for (let i = 0; i < a.byteLength; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}
