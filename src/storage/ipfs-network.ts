import { readFile } from 'node:fs/promises';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import { identify } from '@libp2p/identify';
import type { PrivateKey } from '@libp2p/interface';
import { noise } from '@libp2p/noise';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { tcp } from '@libp2p/tcp';
import { yamux } from '@libp2p/yamux';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import type { Libp2pOptions } from 'libp2p';
import { pathExists, writeFileDurably } from '../durable-file.js';

/** How this node's Helia joins other nodes over libp2p; absent from the config: no libp2p at all. */
export interface IpfsNetworkOptions {
  /** Multiaddrs to listen on (`/ip4/0.0.0.0/tcp/4001`); empty: dial out only, no listening socket. */
  listen: string[];
  /** The only peers ever dialled, each with its peer id (`/ip4/10.0.0.2/tcp/4001/p2p/12D3Koo...`). */
  peers: string[];
}

/** Inbound and outbound connections kept at most: a consortium is a handful of nodes and their replicas. */
const MAX_CONNECTIONS = 64;

/**
 * The node's libp2p identity, created on first start and read back afterwards, so its peer id (what
 * other nodes put in OMNICHART_IPFS_PEERS) survives restarts. Mode 0600: whoever reads it can pose as
 * this node on libp2p (not as its relayer, whose key is separate).
 */
export async function loadOrCreatePeerKey(file: string): Promise<PrivateKey> {
  if (await pathExists(file)) {
    try {
      return privateKeyFromProtobuf(await readFile(file));
    } catch (error) {
      throw new Error(`the libp2p key in ${file} cannot be read: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  const key = await generateKeyPair('Ed25519');
  await writeFileDurably(file, privateKeyToProtobuf(key));
  return key;
}

/** Why a multiaddr cannot be used (null when it can): peers must name their peer id. */
export function multiaddrProblem(text: string, role: 'listen' | 'peer'): string | null {
  let address: Multiaddr;
  try {
    address = multiaddr(text);
  } catch {
    return `has ${JSON.stringify(text)}, which is not a multiaddr`;
  }
  const names = address.getComponents().map((c) => c.name);
  if (!['ip4', 'ip6', 'dns', 'dns4', 'dns6'].includes(names[0]) || names[1] !== 'tcp') {
    return `has ${text}, but only TCP addresses (/ip4|ip6|dns/.../tcp/<port>) are supported`;
  }
  if (role === 'peer' && (names.length !== 3 || names[2] !== 'p2p')) {
    return `has ${text}, which must end with /p2p/<peer id> so only that peer is accepted there`;
  }
  if (role === 'listen' && names.length !== 2) return `has ${text}, which must be just an address and a port`;
  return null;
}

/** The address part of a multiaddr, without its /p2p/<id>, for comparing dial targets. */
function transportPart(address: Multiaddr): string {
  const components = address.getComponents().filter((c) => c.name !== 'p2p');
  return components.map((c) => `/${c.name}${c.value === undefined ? '' : `/${c.value}`}`).join('');
}

export interface ConfiguredPeer {
  peerId: string;
  address: Multiaddr;
}

export function configuredPeers(peers: string[]): ConfiguredPeer[] {
  return peers.map((text) => {
    const address = multiaddr(text);
    const peerId = address.getComponents().find((c) => c.name === 'p2p')?.value;
    if (!peerId) throw new Error(`${text} names no peer id`);
    return { peerId, address };
  });
}

/**
 * libp2p with exactly the parts the issue asks for (TCP, noise, yamux, identify; bitswap comes from
 * Helia) and nothing that finds or dials peers on its own: no bootstrap list, no DHT, no mDNS, no
 * relay. The connection gater refuses to dial anything but the configured peers at their configured
 * addresses; inbound connections are accepted (they can only ask for blocks, which the gateway
 * serves to anyone too) up to MAX_CONNECTIONS.
 */
export function libp2pOptions(network: IpfsNetworkOptions, privateKey: PrivateKey): Libp2pOptions {
  const peers = configuredPeers(network.peers);
  const ownId = peerIdFromPrivateKey(privateKey).toString();
  const allowedPeers = new Set(peers.map((p) => p.peerId).filter((id) => id !== ownId));
  const allowedAddresses = new Set(peers.map((p) => transportPart(p.address)));
  return {
    privateKey,
    addresses: { listen: network.listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    peerDiscovery: [],
    services: { identify: identify() },
    connectionManager: { maxConnections: MAX_CONNECTIONS },
    connectionGater: {
      denyDialPeer: (peerId) => !allowedPeers.has(peerId.toString()),
      denyDialMultiaddr: (address) => !allowedAddresses.has(transportPart(address)),
    },
  };
}
