import type { CID } from 'multiformats/cid';
import { NotFoundError } from '../errors.js';
import type { ContentStore } from '../storage/content-store.js';
import type { PeerNetwork } from './peer-network.js';

/**
 * The local store, falling back to HTTP peers for content written at other nodes; fetched content is
 * verified against its CID (PeerNetwork) and kept locally. When no HTTP peer has it, the local store
 * is asked after all (over libp2p it fetches by bitswap). Every other method is the local store's.
 */
export function withPeerFallback(local: ContentStore, peers: PeerNetwork): ContentStore {
  const get: ContentStore['get'] = async (cid: CID, options) => {
    if (await local.has(cid)) return local.get(cid, options);
    const bytes = await peers.fetchContent(cid);
    if (bytes) {
      await local.put(bytes);
      return bytes;
    }
    try {
      return await local.get(cid, options);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      throw new NotFoundError(`content ${cid.toString()} is held neither here nor by any peer`);
    }
  };
  return new Proxy(local, {
    get(target, property) {
      if (property === 'get') return get;
      const value = Reflect.get(target, property) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
