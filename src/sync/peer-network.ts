import { CID } from 'multiformats/cid';
import type { Ledger } from '../ledger/chain-client.js';
import type { Logger } from '../logger.js';
import { cidOf } from '../storage/helia-content-store.js';

export interface PeerRegistration {
  input: { address: string; role: string; displayName: string; boxPublicKey: string; issuedAt: string };
  signature: string;
}

const FETCH_TIMEOUT_MS = 10_000;
const KEYS_TTL_MS = 60_000;
/** An unreachable peer is asked again after this long, not on every write. */
const RETRY_AFTER_MS = 2_000;
const MAX_CONTENT_BYTES = 64 * 1024 * 1024;

/**
 * The other nodes of the network, by base URL. Nothing they answer is taken on trust: content is
 * re-hashed against its CID, a peer's box key comes from the chain (and only for contract relayers),
 * registrations carry the account's own signature.
 */
export class PeerNetwork {
  private readonly peerKeys = new Map<string, { at: number; key: Uint8Array | null; reachable: boolean }>();

  constructor(
    private readonly options: { peers: string[]; ledger: Ledger; ownRelayer: string; logger: Logger },
  ) {}

  get configured(): boolean {
    return this.options.peers.length > 0;
  }

  /** Box keys of peer nodes that the contract lists as relayers, so records are wrapped for them too. */
  async nodeKeys(): Promise<Uint8Array[]> {
    const keys = await Promise.all(this.options.peers.map((peer) => this.nodeKeyOf(peer)));
    return keys.filter((key): key is Uint8Array => key !== null);
  }

  private async nodeKeyOf(peer: string): Promise<Uint8Array | null> {
    const cached = this.peerKeys.get(peer);
    if (cached && Date.now() - cached.at < (cached.reachable ? KEYS_TTL_MS : RETRY_AFTER_MS))
      return cached.key;
    let key: Uint8Array | null = null;
    let reachable = true;
    try {
      const info = (await this.fetchJson(`${peer}/node`)) as { relayerAddress?: string } | null;
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
      this.options.logger.warn('peer unreachable', { peer, error: (error as Error).message });
    }
    this.peerKeys.set(peer, { at: Date.now(), key, reachable: reachable && key !== null });
    return key;
  }

  /** Fetches a file by CID from the first peer that has it; the bytes must hash to the CID. */
  async fetchContent(cid: CID): Promise<Uint8Array | null> {
    const text = cid.toString();
    for (const peer of this.options.peers) {
      try {
        const response = await fetch(`${peer}/ipfs/${text}`, {
          signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
        });
        if (!response.ok) continue;
        const length = Number(response.headers.get('content-length') ?? 0);
        if (length > MAX_CONTENT_BYTES) continue;
        const bytes = new Uint8Array(await response.arrayBuffer());
        if ((await cidOf(bytes)).equals(cid)) return bytes;
        this.options.logger.warn('peer sent content that does not match its CID', { peer, cid: text });
      } catch (error) {
        this.options.logger.debug('content fetch from peer failed', {
          peer,
          error: (error as Error).message,
        });
      }
    }
    return null;
  }

  /** A signed registration from the first peer that knows the account (verified by the caller). */
  async fetchRegistration(address: string): Promise<PeerRegistration | null> {
    for (const peer of this.options.peers) {
      try {
        const found = (await this.fetchJson(`${peer}/registrations/${address}`)) as PeerRegistration | null;
        if (found?.input && typeof found.signature === 'string') return found;
      } catch (error) {
        this.options.logger.debug('registration fetch from peer failed', {
          peer,
          error: (error as Error).message,
        });
      }
    }
    return null;
  }

  private async fetchJson(url: string): Promise<unknown> {
    const response = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    if (response.status === 404) return null;
    if (!response.ok) throw new Error(`${url} answered ${response.status}`);
    return response.json();
  }
}
