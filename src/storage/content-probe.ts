import type { ContentStore } from './content-store.js';

/** Always the same bytes, so every probe writes the same block instead of adding one. */
const PROBE = new TextEncoder().encode('omnichart blockstore readiness probe\n');

/**
 * Writes the probe block and reads it back: a blockstore that is closed, unwritable (disk full,
 * permissions) or returns other bytes fails, which a `has` alone would not show.
 */
export async function probeContentStore(content: ContentStore): Promise<void> {
  const cid = await content.put(PROBE);
  const back = await content.get(cid);
  if (!Buffer.from(back).equals(PROBE)) throw new Error(`blockstore returned other bytes for ${cid}`);
}
