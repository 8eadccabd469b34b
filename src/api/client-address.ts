import type { IncomingMessage } from 'node:http';
import proxyAddr from 'proxy-addr';

/**
 * The client address rate limits count by. The socket's peer, unless that peer is a configured
 * trusted proxy: then `proxy-addr` walks X-Forwarded-For from the right, past trusted hops only, so a
 * client cannot pick its own address by sending the header itself.
 */
export function clientAddressOf(trustedProxies: readonly string[]): (req: IncomingMessage) => string {
  if (trustedProxies.length === 0) return (req) => normalize(req.socket.remoteAddress);
  const trust = proxyAddr.compile([...trustedProxies]);
  return (req) => normalize(proxyAddr(req, trust));
}

/** IPv4 clients of a dual-stack socket appear as ::ffff:a.b.c.d; count them as a.b.c.d. */
function normalize(address: string | undefined): string {
  if (!address) return 'unknown';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
