import type { CID } from 'multiformats/cid';
import { z } from 'zod';
import type { Ledger } from '../ledger/chain-client.js';
import type { Logger } from '../logger.js';
import { NotFoundError } from '../errors.js';
import { readVerifiedFile } from '../export/verified-file.js';
import { carBlocks } from '../storage/car-blocks.js';
import type { ContentStore } from '../storage/content-store.js';
import { cappedFetch } from './capped-fetch.js';

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/);

/** GET /node. Only the relayer address is used; its box key comes from the chain. */
const nodeInfoSchema = z.object({
  relayerAddress: address,
  chainId: z.string().regex(/^[0-9]{1,78}$/),
  contractAddress: address,
});

const KEYS_TTL_MS = 60_000;
/** An unreachable peer is asked again after this long, not on every write. */
const RETRY_AFTER_MS = 2_000;
const DEFAULTS = {
  /** Whole exchange, body included. */
  timeoutMs: 10_000,
  /** Node info and registrations are a few hundred bytes. */
  maxJsonBytes: 256 * 1024,
  maxContentBytes: 64 * 1024 * 1024,
};

export interface PeerNetworkOptions {
  peers: string[];
  /** Relayers of other nodes named in the config (nodes joined over libp2p only, with no HTTP URL). */
  relayers?: string[];
  ledger: Ledger;
  ownRelayer: string;
  /** Computes the CID a peer's content must hash to (the node's own content store). */
  content: Pick<ContentStore, 'cidOf'>;
  logger: Logger;
  timeoutMs?: number;
  maxJsonBytes?: number;
  maxContentBytes?: number;
}

/** The file under `root` from a CAR's blocks, each checked against its CID as the walk reaches it. */
async function fileFromCar(root: CID, car: Uint8Array): Promise<Uint8Array> {
  const blocks = await carBlocks(car);
  return readVerifiedFile(
    {
      async block(cid) {
        const bytes = blocks.get(cid.toString());
        if (!bytes) throw new NotFoundError(`the CAR for ${root} lacks block ${cid}`);
        return bytes;
      },
      async close() {},
    },
    root,
  );
}

/** A peer's reply that is not what the protocol says; it is ignored, never thrown into sync. */
class BadPeerReply extends Error {}

/**
 * The other nodes of the network, by base URL. Nothing they answer is taken on trust: every JSON
 * reply passes a schema, bodies are capped while they stream, content is re-hashed against its CID,
 * a peer's box key comes from the chain (and only for contract relayers), registrations carry the
 * account's own signature.
 */
export class PeerNetwork {
  private readonly peerKeys = new Map<string, { at: number; key: Uint8Array | null; reachable: boolean }>();
  private readonly limits: typeof DEFAULTS;

  constructor(private readonly options: PeerNetworkOptions) {
    this.limits = {
      timeoutMs: options.timeoutMs ?? DEFAULTS.timeoutMs,
      maxJsonBytes: options.maxJsonBytes ?? DEFAULTS.maxJsonBytes,
      maxContentBytes: options.maxContentBytes ?? DEFAULTS.maxContentBytes,
    };
  }

  get configured(): boolean {
    return this.options.peers.length > 0;
  }

  /** Box keys of peer nodes that the contract lists as relayers, so records are wrapped for them too. */
  async nodeKeys(): Promise<Uint8Array[]> {
    const keys = await Promise.all([
      ...this.options.peers.map((peer) => this.nodeKeyOf(peer)),
      ...(this.options.relayers ?? []).map((relayer) => this.relayerKeyOf(relayer)),
    ]);
    return keys.filter((key): key is Uint8Array => key !== null);
  }

  /** A configured relayer's box key from the chain, while the contract lists it as a relayer. */
  private async relayerKeyOf(relayer: string): Promise<Uint8Array | null> {
    const cacheKey = `relayer:${relayer.toLowerCase()}`;
    const cached = this.peerKeys.get(cacheKey);
    if (cached && Date.now() - cached.at < (cached.reachable ? KEYS_TTL_MS : RETRY_AFTER_MS))
      return cached.key;
    let key: Uint8Array | null = null;
    if (relayer.toLowerCase() !== this.options.ownRelayer.toLowerCase()) {
      try {
        if (await this.options.ledger.isRelayer(relayer)) key = await this.options.ledger.accountKey(relayer);
        else
          this.options.logger.warn('configured peer relayer is not a relayer of the contract', { relayer });
      } catch (error) {
        this.options.logger.warn('box key of a configured peer relayer unreadable', {
          relayer,
          error: (error as Error).message,
        });
      }
    }
    this.peerKeys.set(cacheKey, { at: Date.now(), key, reachable: key !== null });
    return key;
  }

  private async nodeKeyOf(peer: string): Promise<Uint8Array | null> {
    const cached = this.peerKeys.get(peer);
    if (cached && Date.now() - cached.at < (cached.reachable ? KEYS_TTL_MS : RETRY_AFTER_MS))
      return cached.key;
    let key: Uint8Array | null = null;
    let reachable = true;
    try {
      const info = await this.fetchJson(peer, '/node', nodeInfoSchema);
      const relayer = info?.relayerAddress;
      if (relayer && relayer.toLowerCase() !== this.options.ownRelayer.toLowerCase()) {
        if (await this.options.ledger.isRelayer(relayer)) key = await this.options.ledger.accountKey(relayer);
        else
          this.options.logger.warn('peer is not a relayer of the contract; not sharing record keys with it', {
            peer,
          });
      }
    } catch (error) {
      reachable = false;
      if (!(error instanceof BadPeerReply))
        this.options.logger.warn('peer unreachable', { peer, error: (error as Error).message });
    }
    this.peerKeys.set(peer, { at: Date.now(), key, reachable: reachable && key !== null });
    return key;
  }

  /**
   * Fetches a file by CID from the first peer that has it, as a CAR from the peer's trustless
   * gateway (each block checked against its CID while the DAG is walked), or whole from peers that
   * answer the CAR request with the file (older nodes); either way the file must hash to the CID.
   */
  async fetchContent(cid: CID): Promise<Uint8Array | null> {
    const text = cid.toString();
    for (const peer of this.options.peers) {
      try {
        // Accept only, no ?format: older nodes answer it with the whole file, as they always did.
        const reply = await cappedFetch(`${peer}/ipfs/${text}`, {
          maxBytes: this.limits.maxContentBytes,
          timeoutMs: this.limits.timeoutMs,
          accept: 'application/vnd.ipld.car; version=1; order=dfs; dups=n',
        });
        if (reply.status !== 200) continue;
        const bytes = (reply.contentType ?? '').startsWith('application/vnd.ipld.car')
          ? await fileFromCar(cid, reply.body)
          : reply.body;
        if ((await this.options.content.cidOf(bytes)).equals(cid)) return bytes;
        this.options.logger.warn('peer sent content that does not match its CID', { peer, cid: text });
      } catch (error) {
        this.options.logger.warn('content fetch from peer failed', {
          peer,
          cid: text,
          error: (error as Error).message,
        });
      }
    }
    return null;
  }

  /**
   * A JSON reply that matches `schema`, or null for 404. A reply of the wrong shape is logged (with
   * the failing field paths only, none of the peer's text) and thrown as BadPeerReply.
   */
  private async fetchJson<T>(peer: string, path: string, schema: z.ZodType<T>): Promise<T | null> {
    const reply = await cappedFetch(`${peer}${path}`, {
      maxBytes: this.limits.maxJsonBytes,
      timeoutMs: this.limits.timeoutMs,
    });
    if (reply.status === 404) return null;
    if (reply.status !== 200) throw new Error(`${peer}${path} answered ${reply.status}`);
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(reply.body));
    } catch {
      return this.badReply(peer, path, 'not JSON');
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const fields = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.code}`);
      return this.badReply(peer, path, fields.join(', ').slice(0, 200));
    }
    return parsed.data;
  }

  private badReply(peer: string, path: string, problem: string): never {
    this.options.logger.warn('peer reply ignored: it does not match the protocol', { peer, path, problem });
    throw new BadPeerReply(problem);
  }
}
