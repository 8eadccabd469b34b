import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import type { CID } from 'multiformats/cid';
import { buildConfig, ConfigError, loadConfig } from '../../src/config.js';
import { NotFoundError } from '../../src/errors.js';
import type { ContentStore } from '../../src/storage/content-store.js';
import { cidOf, openContentStore } from '../../src/storage/helia-content-store.js';
import { libp2pOptions } from '../../src/storage/ipfs-network.js';

let dir: string;
const opened: ContentStore[] = [];

async function open(name: string, network?: { listen: string[]; peers: string[] }) {
  const store = await openContentStore({
    blockstoreDir: path.join(dir, name, 'blocks'),
    peerKeyFile: path.join(dir, name, 'ipfs-peer.key'),
    network: network && { ...network, fetchTimeoutMs: 1_500 },
  });
  opened.push(store);
  return store;
}

async function eventually(probe: () => Promise<boolean>, what: string) {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    if (await probe()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'omnichart-libp2p-'));
});

afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('Helia over libp2p between configured peers', () => {
  it('stays offline by default: a peer id but no listening address, and a missing CID fails at once', async () => {
    const store = await open('offline');
    expect(store.peerId).toMatch(/^12D3KooW/);
    expect(store.listenAddresses()).toEqual([]);
    const absent = await cidOf(new TextEncoder().encode('held nowhere'));
    const started = Date.now();
    await expect(store.get(absent)).rejects.toThrow(NotFoundError);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('keeps the peer id in the data dir across restarts, readable by its owner only', async () => {
    const first = await open('a', { listen: ['/ip4/127.0.0.1/tcp/0'], peers: [] });
    const id = first.peerId;
    await first.close();
    opened.splice(opened.indexOf(first), 1);
    const again = await open('a', { listen: ['/ip4/127.0.0.1/tcp/0'], peers: [] });
    expect(again.peerId).toBe(id);
    expect((await stat(path.join(dir, 'a', 'ipfs-peer.key'))).mode & 0o077).toBe(0);
    const other = await open('b');
    expect(other.peerId).not.toBe(id);
  });

  it('fetches a multi-block file written at A from B by bitswap, and keeps it at B', async () => {
    const a = await open('a', { listen: ['/ip4/127.0.0.1/tcp/0'], peers: [] });
    const [listening] = a.listenAddresses();
    expect(listening).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3KooW/);
    const b = await open('b', { listen: [], peers: [listening] });
    expect(b.listenAddresses()).toEqual([]);

    const bytes = new Uint8Array(700_000).map((_, i) => (i * 7) % 253);
    const cid = await a.put(bytes);
    expect(await b.has(cid)).toBe(false);
    let fetched: Uint8Array | undefined;
    await eventually(async () => {
      fetched = await b.get(cid).catch(() => undefined);
      return fetched !== undefined;
    }, 'B to fetch the file from A');
    expect(Buffer.from(fetched!).equals(Buffer.from(bytes))).toBe(true);
    expect(await b.has(cid)).toBe(true);
    // Every block of the DAG is now at B, checked against its CID as it arrived.
    const heldAtA: CID[] = [];
    for await (const block of a.blocks()) heldAtA.push(block.cid);
    expect(heldAtA.length).toBe(4); // a root and three 256 KiB leaves
    for (const blockCid of heldAtA) expect(await b.block(blockCid)).not.toBeNull();
  });

  it('answers NotFoundError after the timeout for content no peer holds', async () => {
    const a = await open('a', { listen: ['/ip4/127.0.0.1/tcp/0'], peers: [] });
    const b = await open('b', { listen: [], peers: a.listenAddresses() });
    const absent = await cidOf(new TextEncoder().encode('held by nobody'));
    await expect(b.get(absent)).rejects.toThrow(NotFoundError);
  });
});

describe('what libp2p may dial', () => {
  const peer = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA';
  const other = '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK';
  it('only the configured peers at their configured addresses: nothing else is dialled', async () => {
    const options = libp2pOptions(
      { listen: [], peers: [`/ip4/10.0.0.2/tcp/4001/p2p/${peer}`] },
      await generateKeyPair('Ed25519'),
    );
    const gater = options.connectionGater!;
    expect(await gater.denyDialPeer!(peerIdFromString(peer))).toBe(false);
    expect(await gater.denyDialPeer!(peerIdFromString(other))).toBe(true);
    expect(await gater.denyDialMultiaddr!(multiaddr(`/ip4/10.0.0.2/tcp/4001/p2p/${peer}`))).toBe(false);
    expect(await gater.denyDialMultiaddr!(multiaddr('/ip4/10.0.0.2/tcp/4001'))).toBe(false);
    expect(await gater.denyDialMultiaddr!(multiaddr('/ip4/10.0.0.3/tcp/4001'))).toBe(true);
    expect(await gater.denyDialMultiaddr!(multiaddr('/ip4/10.0.0.2/tcp/4002'))).toBe(true);
    // No discovery of any kind: no bootstrap list, DHT, mDNS or relay.
    expect(options.peerDiscovery).toEqual([]);
    expect(Object.keys(options.services ?? {})).toEqual(['identify']);
  });
});

describe('IPFS network configuration', () => {
  const base = { dataDir: '/tmp/omnichart-config' };
  it('accepts TCP multiaddrs, peers with their peer id', () => {
    const config = buildConfig({
      ...base,
      ipfs: {
        listen: ['/ip4/0.0.0.0/tcp/4001'],
        peers: ['/dns4/node-b.example.org/tcp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'],
      },
    });
    expect(config.ipfs.listen).toEqual(['/ip4/0.0.0.0/tcp/4001']);
    expect(config.ipfs.peerKeyFile).toBe(path.join('/tmp/omnichart-config', 'ipfs-peer.key'));
  });

  it('reads the variables from the environment', () => {
    const peer = '/ip4/10.0.0.2/tcp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA';
    const config = loadConfig({
      OMNICHART_DATA_DIR: '/tmp/omnichart-config',
      OMNICHART_IPFS_LISTEN: '/ip4/0.0.0.0/tcp/4001, /ip6/::/tcp/4001',
      OMNICHART_IPFS_PEERS: peer,
      OMNICHART_IPFS_FETCH_TIMEOUT_MS: '2500',
      OMNICHART_GATEWAY_STRICT: 'true',
      OMNICHART_PEER_RELAYERS: '0x00000000000000000000000000000000000000AB',
    });
    expect(config.ipfs).toMatchObject({
      listen: ['/ip4/0.0.0.0/tcp/4001', '/ip6/::/tcp/4001'],
      peers: [peer],
      fetchTimeoutMs: 2500,
      gatewayStrict: true,
    });
    expect(config.peerRelayers).toEqual(['0x00000000000000000000000000000000000000ab']);
    // Embedded defaults: offline, lenient gateway.
    const defaults = loadConfig({ OMNICHART_DATA_DIR: '/tmp/omnichart-config' });
    expect(defaults.ipfs).toMatchObject({ listen: [], peers: [], gatewayStrict: false });
    expect(() => loadConfig({ OMNICHART_DATA_DIR: '/tmp/x', OMNICHART_PEER_RELAYERS: 'node-b' })).toThrow(
      /OMNICHART_PEER_RELAYERS has node-b/,
    );
  });

  it.each([
    [{ peers: ['/ip4/10.0.0.2/tcp/4001'] }, /OMNICHART_IPFS_PEERS .*must end with \/p2p\/<peer id>/],
    [{ peers: ['not a multiaddr'] }, /OMNICHART_IPFS_PEERS .*not a multiaddr/],
    [{ listen: ['/ip4/0.0.0.0/udp/4001/quic-v1'] }, /OMNICHART_IPFS_LISTEN .*only TCP/],
    [
      { listen: ['/ip4/0.0.0.0/tcp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'] },
      /just an address/,
    ],
  ])('refuses %j', (ipfs, message) => {
    expect(() => buildConfig({ ...base, ipfs })).toThrow(ConfigError);
    expect(() => buildConfig({ ...base, ipfs })).toThrow(message);
  });
});
