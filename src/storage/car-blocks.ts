import { CarBlockIterator } from '@ipld/car';
import { IntegrityError } from '../errors.js';

/**
 * The blocks of a CAR a peer sent, by CID text, unchecked: the caller verifies each against its CID
 * as it walks the DAG (export/verified-file.ts). Header roots are ignored, as the gateway spec says.
 * @throws IntegrityError when the bytes are not a CAR.
 */
export async function carBlocks(car: Uint8Array): Promise<Map<string, Uint8Array>> {
  const blocks = new Map<string, Uint8Array>();
  try {
    for await (const { cid, bytes } of await CarBlockIterator.fromBytes(car))
      blocks.set(cid.toString(), bytes);
  } catch (error) {
    throw new IntegrityError(`not a readable CAR: ${(error as Error).message}`);
  }
  return blocks;
}
