import type { LedgerEvent } from '../ledger/chain-events.js';

/**
 * Chain events as plain JSON for the quarantine table, and back. Byte fields (CIDs, box keys) become
 * `{ $bytes: base64 }` and bigints `{ $bigint: decimal }`, so a retried event is the one that failed.
 */
export function eventToJson(event: LedgerEvent): unknown {
  return encode(event);
}

export function eventFromJson(json: unknown): LedgerEvent {
  return decode(json) as LedgerEvent;
}

function encode(value: unknown): unknown {
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString('base64') };
  if (typeof value === 'bigint') return { $bigint: value.toString() };
  if (Array.isArray(value)) return value.map(encode);
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, encode(inner)]));
  return value;
}

function decode(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decode);
  if (value && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 1 && entries[0][0] === '$bytes' && typeof entries[0][1] === 'string')
      return new Uint8Array(Buffer.from(entries[0][1], 'base64'));
    if (entries.length === 1 && entries[0][0] === '$bigint' && typeof entries[0][1] === 'string')
      return BigInt(entries[0][1]);
    return Object.fromEntries(entries.map(([key, inner]) => [key, decode(inner)]));
  }
  return value;
}
