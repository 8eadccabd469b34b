import { create } from 'kubo-rpc-client';
import type { CID } from 'multiformats/cid';

/** Keeps an object on another IPFS deployment. */
export interface Pinner {
  /** Resolves once the deployment holds and pins `bytes` under exactly `cid`; throws otherwise. */
  pin(cid: CID, bytes: Uint8Array, signal: AbortSignal): Promise<void>;
}

export interface KuboPinnerOptions {
  /** Kubo's RPC API (`http://host:5001`) or an IPFS Cluster proxy that speaks it (`:9095`). */
  apiUrl: string;
  /** Sent as the Authorization header (IPFS Cluster proxies and gateways in front of Kubo ask for one). */
  authorization?: string;
}

/**
 * Pins through Kubo's RPC API by adding the object's bytes with Kubo's classic settings (CIDv0,
 * 256 KiB chunks, no raw leaves, balanced layout), the same ones our blockstore uses, so Kubo
 * computes the same CID: the object goes over in one request, needs no IPFS route from Kubo to this
 * node, and Kubo's answer proves it holds what we hold. `pin: true` keeps it past Kubo's GC.
 */
export function kuboPinner(options: KuboPinnerOptions): Pinner {
  const kubo = create({
    url: options.apiUrl,
    headers: options.authorization ? { authorization: options.authorization } : undefined,
  });
  return {
    async pin(cid, bytes, signal) {
      const added = await kubo.add(bytes, {
        cidVersion: 0,
        chunker: 'size-262144',
        rawLeaves: false,
        trickle: false,
        pin: true,
        signal,
      });
      if (!added.cid.equals(cid)) {
        throw new Error(
          `Kubo stored the object as ${added.cid}, not ${cid}: its add settings differ from ours`,
        );
      }
    },
  };
}
