import { createHmac } from 'node:crypto';

/**
 * The key for content HMACs, derived from the node's box secret key: a node secret that never leaves
 * the node, so the hashes stored in Postgres cannot be checked against guessed plaintexts.
 */
export function deriveContentHmacKey(boxSecretKey: Uint8Array): Buffer {
  return createHmac('sha256', boxSecretKey).update('omnichart/content-hmac/v1').digest();
}

/** HMAC-SHA256 (hex) of the canonical JSON of a value: equal content, equal HMAC, whatever the key order. */
export function contentHmac(key: Buffer, value: unknown): string {
  return createHmac('sha256', key).update(canonicalJson(value)).digest('hex');
}

/** JSON with object keys sorted at every level (values are JSON already: validated resources). */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const object = value as Record<string, unknown>;
    const keys = Object.keys(object)
      .filter((k) => object[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(object[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
