import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from '@jest/globals';
import { clientAddressOf } from '../../src/api/client-address.js';
import { DEFAULT_RATE_LIMITS, loadConfig } from '../../src/config.js';

const request = (remoteAddress: string, forwardedFor?: string) =>
  ({
    socket: { remoteAddress },
    connection: { remoteAddress },
    headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {},
  }) as unknown as IncomingMessage;

describe('client address', () => {
  it('is the socket peer when no proxy is trusted, whatever X-Forwarded-For says', () => {
    const of = clientAddressOf([]);
    expect(of(request('198.51.100.7', '203.0.113.1'))).toBe('198.51.100.7');
    expect(of(request('::ffff:198.51.100.7'))).toBe('198.51.100.7');
    expect(of(request('2001:db8::1'))).toBe('2001:db8::1');
  });

  it('walks X-Forwarded-For from the right past trusted hops only', () => {
    const of = clientAddressOf(['loopback', '10.0.0.0/8']);
    expect(of(request('127.0.0.1', '203.0.113.1'))).toBe('203.0.113.1');
    // A client that prepends its own entry gets the address the proxy saw, not the one it chose.
    expect(of(request('127.0.0.1', '192.0.2.99, 203.0.113.1'))).toBe('203.0.113.1');
    expect(of(request('127.0.0.1', '203.0.113.1, 10.1.2.3'))).toBe('203.0.113.1');
    // An untrusted peer's header is ignored.
    expect(of(request('198.51.100.7', '203.0.113.1'))).toBe('198.51.100.7');
  });
});

describe('rate-limit configuration', () => {
  it('reads each limit, the switch and the trusted proxies from the environment', () => {
    const config = loadConfig({
      OMNICHART_RATE_LIMIT_LOGIN_PER_IP: '7',
      OMNICHART_RATE_LIMIT_RELAY_PER_ACCOUNT: '0',
      OMNICHART_RATE_LIMITS: 'off',
      OMNICHART_TRUSTED_PROXIES: 'loopback, 10.0.0.0/8',
    });
    expect(config.rateLimits.enabled).toBe(false);
    expect(config.rateLimits.trustedProxies).toEqual(['loopback', '10.0.0.0/8']);
    expect(config.rateLimits.rules.login).toEqual({ ...DEFAULT_RATE_LIMITS.login, perIp: 7 });
    expect(config.rateLimits.rules.relay.perAccount).toBe(0);
    expect(config.rateLimits.rules.request).toEqual(DEFAULT_RATE_LIMITS.request);
    expect(() => loadConfig({ OMNICHART_RATE_LIMIT_IMPORT_PER_IP: '-1' })).toThrow(/IMPORT_PER_IP/);
  });
});
