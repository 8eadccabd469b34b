const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for a hyphenated UUID in either case (record ids, training job ids). */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
