import net from 'node:net';

/**
 * Why a peer base URL is refused, or null when it is fine. Peers must be https://, so a network path
 * cannot read or rewrite what nodes exchange. Plain http:// is accepted only with `allowHttp` and
 * only for this machine (localhost, 127.0.0.0/8, ::1): development and tests, where nothing crosses
 * a network. A base URL carries no credentials, query or fragment (paths like /ipfs/... are appended).
 */
export function peerUrlProblem(raw: string, allowHttp: boolean): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return `${JSON.stringify(raw)} is not a URL`;
  }
  if (url.username || url.password || url.search || url.hash)
    return `${url.origin} must be a base URL without credentials, query or fragment`;
  if (url.protocol === 'https:') return null;
  if (url.protocol !== 'http:') return `${url.origin || raw} must be an https:// URL`;
  if (!allowHttp)
    return `${url.origin} is plain http; peers must be https:// (OMNICHART_ALLOW_HTTP_PEERS=true permits http to loopback hosts only)`;
  if (!isLoopback(url.hostname))
    return `${url.origin} is plain http to a host that is not loopback; only localhost, 127.0.0.0/8 and [::1] may use http`;
  return null;
}

function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost') return true;
  if (net.isIPv4(host)) return host.split('.')[0] === '127';
  return net.isIPv6(host) && host === '::1';
}
