import type { ContentStore } from './content-store.js';
import type { PinOutboxStore } from './pin-outbox-store.js';

/**
 * A content store whose every stored object is also queued for pinning to Kubo. The outbox row is
 * written after the blocks are durable here and before `put` resolves, so the write that uses the
 * object (a record version, a model anchor) commits only once its pin is queued: nothing acknowledged
 * is left unpinned by a crash. An object that was stored but whose write failed is pinned anyway,
 * which costs Kubo a few bytes and nothing else (it is ciphertext or a public artifact).
 */
export function withPinning(inner: ContentStore, outbox: PinOutboxStore, onQueued: () => void): ContentStore {
  return {
    ...bind(inner),
    async put(bytes, options) {
      const cid = await inner.put(bytes, options);
      await outbox.enqueue([cid.toString()]);
      onQueued();
      return cid;
    },
    async putMany(items, options) {
      const cids = await inner.putMany(items, options);
      await outbox.enqueue(cids.map((cid) => cid.toString()));
      onQueued();
      return cids;
    },
  };
}

function bind(inner: ContentStore): ContentStore {
  return {
    put: (bytes, options) => inner.put(bytes, options),
    putMany: (items, options) => inner.putMany(items, options),
    get: (cid, options) => inner.get(cid, options),
    getMany: (cids, options) => inner.getMany(cids, options),
    has: (cid) => inner.has(cid),
    block: (cid) => inner.block(cid),
    car: (root, options) => inner.car(root, options),
    cidOf: (bytes) => inner.cidOf(bytes),
    get peerId() {
      return inner.peerId;
    },
    listenAddresses: () => inner.listenAddresses(),
    blocks: () => inner.blocks(),
    close: () => inner.close(),
  };
}
