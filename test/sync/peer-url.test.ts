import { buildConfig, ConfigError, loadConfig } from '../../src/config.js';
import { peerUrlProblem } from '../../src/sync/peer-url.js';

describe('peer URLs: https, or http to loopback when allowed', () => {
  it.each([
    ['https://node-b.example.org', false],
    ['https://10.0.0.7:8443/omnichart', false],
    ['http://127.0.0.1:4001', true],
    ['http://127.8.9.10', true],
    ['http://localhost:4001', true],
    ['http://[::1]:4001', true],
  ])('accepts %s (allowHttp=%s)', (url, allowHttp) => {
    expect(peerUrlProblem(url, allowHttp)).toBeNull();
  });

  it.each([
    ['http://127.0.0.1:4001', false, /plain http; peers must be https/],
    ['http://10.0.0.7:4001', true, /not loopback/],
    ['http://node-b.example.org', true, /not loopback/],
    ['http://128.0.0.1', true, /not loopback/],
    ['http://[::2]', true, /not loopback/],
    ['http://localhost.evil.example', true, /not loopback/],
    ['ftp://node-b.example.org', true, /must be an https:\/\/ URL/],
    ['https://user:pw@node-b.example.org', false, /without credentials/],
    ['https://node-b.example.org/?x=1', false, /without credentials, query/],
    ['node-b.example.org', false, /is not a URL/],
  ])('refuses %s (allowHttp=%s)', (url, allowHttp, reason) => {
    expect(peerUrlProblem(url, allowHttp)).toMatch(reason);
  });

  it('buildConfig names the variable; the flag admits loopback http only', () => {
    const build = (peers: string[], peersAllowHttp?: boolean) =>
      buildConfig({ dataDir: '/tmp/x', peers, peersAllowHttp });
    expect(() => build(['http://127.0.0.1:4001'])).toThrow(ConfigError);
    expect(() => build(['http://127.0.0.1:4001'])).toThrow(
      /OMNICHART_PEERS http:\/\/127\.0\.0\.1:4001 is plain http/,
    );
    expect(build(['http://127.0.0.1:4001'], true).peers).toEqual(['http://127.0.0.1:4001']);
    expect(() => build(['https://a.example', 'http://192.168.1.4'], true)).toThrow(
      /OMNICHART_PEERS .*not loopback/,
    );
  });

  it('loadConfig reads OMNICHART_ALLOW_HTTP_PEERS and OMNICHART_MAX_INDEXER_LAG_SECONDS', () => {
    const env = {
      OMNICHART_DATA_DIR: '/tmp/x',
      OMNICHART_PEERS: 'http://localhost:4001/, https://b.example',
    };
    expect(() => loadConfig(env)).toThrow(/OMNICHART_PEERS/);
    const config = loadConfig({
      ...env,
      OMNICHART_ALLOW_HTTP_PEERS: 'true',
      OMNICHART_MAX_INDEXER_LAG_SECONDS: '5',
    });
    expect(config.peers).toEqual(['http://localhost:4001', 'https://b.example']);
    expect(config.peersAllowHttp).toBe(true);
    expect(config.chain.maxIndexerLagSeconds).toBe(5);
    expect(loadConfig({ OMNICHART_DATA_DIR: '/tmp/x' }).chain.maxIndexerLagSeconds).toBe(30);
    expect(() => loadConfig({ ...env, OMNICHART_ALLOW_HTTP_PEERS: 'yes' })).toThrow(
      /OMNICHART_ALLOW_HTTP_PEERS/,
    );
  });
});
