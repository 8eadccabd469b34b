import path from 'node:path';
import { ConfigError, buildConfig, loadConfig } from '../src/config.js';

describe('operations settings in the environment', () => {
  it('defaults: metrics on for loopback, no CORS, a 300 s anchor backlog bound', () => {
    const config = loadConfig({});
    expect(config.metrics).toEqual({ enabled: true, token: undefined });
    expect(config.http.corsOrigins).toEqual([]);
    expect(config.chain.maxAnchorBacklogSeconds).toBe(300);
  });

  it('reads them, keeping CORS origins in the form browsers send', () => {
    const config = loadConfig({
      OMNICHART_METRICS: 'false',
      OMNICHART_METRICS_TOKEN: 'a-scrape-token-of-some-length',
      OMNICHART_CORS_ORIGINS: 'https://app.example.org/, http://localhost:5173',
      OMNICHART_MAX_ANCHOR_BACKLOG_SECONDS: '60',
    });
    expect(config.metrics).toEqual({ enabled: false, token: 'a-scrape-token-of-some-length' });
    expect(config.http.corsOrigins).toEqual(['https://app.example.org', 'http://localhost:5173']);
    expect(config.chain.maxAnchorBacklogSeconds).toBe(60);
  });

  it('refuses what could never match or is too weak', () => {
    for (const origin of ['*', 'https://app.example.org/path', 'app.example.org', 'ftp://x.example']) {
      expect(() => loadConfig({ OMNICHART_CORS_ORIGINS: origin })).toThrow(ConfigError);
    }
    expect(() => loadConfig({ OMNICHART_METRICS_TOKEN: 'short' })).toThrow(/OMNICHART_METRICS_TOKEN/);
    expect(() => loadConfig({ OMNICHART_MAX_ANCHOR_BACKLOG_SECONDS: '0' })).toThrow(ConfigError);
  });

  it('replica mode: one process by default; replicas need a shared database, chain and passphrase', () => {
    const single = loadConfig({});
    expect(single.replicas).toEqual({ enabled: false, leaderIntervalMs: 1000 });
    expect(single.keys.file).toBe(path.resolve('.omnichart', 'node-keys.json'));
    const shared = {
      DATABASE_URL: 'postgres://db.internal:5432/node',
      CHAIN_RPC_URL: 'http://besu.internal:8545',
      OMNICHART_RELAYER_KEY: `0x${'11'.repeat(32)}`,
      OMNICHART_KEY_PASSPHRASE: 'a long shared passphrase',
    };
    const replica = loadConfig({
      ...shared,
      OMNICHART_REPLICAS: 'on',
      OMNICHART_NODE_KEYS_FILE: '/run/secrets/node-keys.json',
      OMNICHART_LEADER_INTERVAL_MS: '500',
    });
    expect(replica.replicas).toEqual({ enabled: true, leaderIntervalMs: 500 });
    expect(replica.keys.file).toBe('/run/secrets/node-keys.json');
    for (const missing of ['DATABASE_URL', 'CHAIN_RPC_URL', 'OMNICHART_KEY_PASSPHRASE'] as const) {
      const env: Record<string, string> = { ...shared, OMNICHART_REPLICAS: 'on' };
      delete env[missing];
      expect(() => loadConfig(env)).toThrow(new RegExp(`${missing} is required when OMNICHART_REPLICAS=on`));
    }
    expect(() => loadConfig({ OMNICHART_REPLICAS: 'yes' })).toThrow(/OMNICHART_REPLICAS/);
  });
});

describe('research settings', () => {
  it('k defaults to 10 and noise is off', () => {
    expect(loadConfig({}).research).toEqual({ minCellSize: 10, epsilon: null });
    expect(
      loadConfig({ OMNICHART_RESEARCH_MIN_CELL_SIZE: '25', OMNICHART_RESEARCH_EPSILON: '0.5' }).research,
    ).toEqual({
      minCellSize: 25,
      epsilon: 0.5,
    });
  });

  it('never accepts k below 10 or a non-positive epsilon, from the environment or in code', () => {
    expect(() => loadConfig({ OMNICHART_RESEARCH_MIN_CELL_SIZE: '9' })).toThrow(
      /OMNICHART_RESEARCH_MIN_CELL_SIZE/,
    );
    expect(() => loadConfig({ OMNICHART_RESEARCH_EPSILON: '0' })).toThrow(/OMNICHART_RESEARCH_EPSILON/);
    expect(() => buildConfig({ dataDir: '/tmp/x', research: { minCellSize: 5 } })).toThrow(
      /OMNICHART_RESEARCH_MIN_CELL_SIZE/,
    );
    expect(() => buildConfig({ dataDir: '/tmp/x', research: { epsilon: -1 } })).toThrow(
      /OMNICHART_RESEARCH_EPSILON/,
    );
  });
});
