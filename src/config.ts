import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { multiaddrProblem } from './storage/ipfs-network.js';
import { peerUrlProblem } from './sync/peer-url.js';

/**
 * The one place that reads the environment. Everything else receives a typed `Config`
 * (tests build one in code with `buildConfig`).
 *
 * Over 400 lines because every variable has its schema, type, default and override here, in one place.
 */
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'must be a 0x-prefixed 20-byte hex address');
const privateKey = z.string().regex(/^0x[0-9a-fA-F]{64}$/, 'must be a 0x-prefixed 32-byte hex private key');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
/** Room for a 5,000-entry Synthea bundle (a few KB per entry), for signed-in callers only. */
const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;
/** Everything a caller without a session sends (register, login, queries) fits in far less. */
const DEFAULT_MAX_ANONYMOUS_BODY_BYTES = 1024 * 1024;
/** Grant-based access refuses a consent cache whose last chain catch-up is older than this. */
const DEFAULT_MAX_INDEXER_LAG_SECONDS = 30;
/** Every query in examples/, test/ and the README is under it; 150 aliased 500-record timelines are far over. */
const DEFAULT_MAX_QUERY_COST = 100_000;
/** Records one GraphQL operation may decrypt: two full timeline pages. */
const DEFAULT_MAX_DECRYPTIONS = 1_000;
/** Below this many entries a Bundle is validated on the main thread (a worker message costs more). */
const DEFAULT_VALIDATION_MIN_ENTRIES = 200;
/** One validation worker per core the process may use. */
const DEFAULT_VALIDATION_THREADS = os.availableParallelism();
/** k of research queries: no released figure counts fewer patients; never configurable below it. */
export const MIN_RESEARCH_CELL_SIZE = 10;

/** What each rate limit counts; `request` is the overall budget checked before any GraphQL work. */
export type RateLimitName =
  'request' | 'registerAccount' | 'loginChallenge' | 'login' | 'breakGlass' | 'relay' | 'importBundle';

/** Points per window for one client address (IP) and for one account; 0 turns that side off. */
export interface RateLimitRule {
  perIp: number;
  perAccount: number;
  windowSeconds: number;
}

/**
 * Generous enough for a busy clinic behind one address and for the test suite (which registers every
 * account from 127.0.0.1), tight enough that a flood stops within a window: each registration and
 * relay is a transaction the node pays for, so those are counted per hour.
 */
export const DEFAULT_RATE_LIMITS: Readonly<Record<RateLimitName, RateLimitRule>> = {
  request: { perIp: 1200, perAccount: 3000, windowSeconds: 60 },
  registerAccount: { perIp: 100, perAccount: 10, windowSeconds: 3600 },
  loginChallenge: { perIp: 60, perAccount: 0, windowSeconds: 60 },
  login: { perIp: 60, perAccount: 10, windowSeconds: 60 },
  breakGlass: { perIp: 30, perAccount: 10, windowSeconds: 3600 },
  relay: { perIp: 600, perAccount: 200, windowSeconds: 3600 },
  importBundle: { perIp: 120, perAccount: 60, windowSeconds: 3600 },
};

/** Environment name stem of each limit: OMNICHART_RATE_LIMIT_<stem>_PER_IP / _PER_ACCOUNT. */
const RATE_LIMIT_ENV: Record<RateLimitName, string> = {
  request: 'REQUESTS',
  registerAccount: 'REGISTER',
  loginChallenge: 'LOGIN_CHALLENGE',
  login: 'LOGIN',
  breakGlass: 'BREAK_GLASS',
  relay: 'RELAY',
  importBundle: 'IMPORT',
};

const environmentSchema = z
  .object({
    OMNICHART_DATA_DIR: z.string().min(1).default('.omnichart'),
    OMNICHART_HOST: z.string().min(1).default('127.0.0.1'),
    OMNICHART_PORT: int(0, 65535).default(4000),
    OMNICHART_PUBLIC_URL: z.url().optional(),
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
      .optional(),
    CHAIN_RPC_URL: z.url().optional(),
    OMNICHART_RELAYER_KEY: privateKey.optional(),
    OMNICHART_CONTRACT_ADDRESS: address.optional(),
    OMNICHART_BLOCKSTORE_DIR: z.string().min(1).optional(),
    OMNICHART_KUBO_API: z.url().optional(),
    OMNICHART_KUBO_API_AUTHORIZATION: z.string().min(1).optional(),
    // Multiaddrs, checked in buildConfig; none of either: Helia stays offline (no libp2p at all).
    OMNICHART_IPFS_LISTEN: z.string().default(''),
    OMNICHART_IPFS_PEERS: z.string().default(''),
    OMNICHART_IPFS_FETCH_TIMEOUT_MS: int(100, 600_000).default(10_000),
    OMNICHART_GATEWAY_STRICT: z.enum(['true', 'false']).default('false'),
    OMNICHART_PEER_RELAYERS: z.string().default(''),
    OMNICHART_KEY_PASSPHRASE: z.string().min(12, 'must be at least 12 characters').optional(),
    OMNICHART_NODE_KEYS_FILE: z.string().min(1).optional(),
    OMNICHART_REPLICAS: z.enum(['on', 'off']).default('off'),
    OMNICHART_LEADER_INTERVAL_MS: int(100, 60_000).default(1_000),
    OMNICHART_ADMINS: z.string().default(''),
    OMNICHART_BREAK_GLASS_DAILY_LIMIT: int(1, 1000).default(5),
    OMNICHART_ANCHOR_BATCH_SIZE: int(1, 500).default(250),
    OMNICHART_ANCHOR_INTERVAL_MS: int(10, 600_000).default(250),
    OMNICHART_AUDIT_ANCHOR_INTERVAL_MS: int(100, 3_600_000).default(10_000),
    OMNICHART_INDEXER_INTERVAL_MS: int(50, 600_000).default(1_000),
    OMNICHART_SESSION_TTL_SECONDS: int(60, 30 * 24 * 3600).default(12 * 3600),
    OMNICHART_CHALLENGE_TTL_SECONDS: int(10, 3600).default(300),
    OMNICHART_MAX_BODY_BYTES: int(1024, 256 * 1024 * 1024).default(DEFAULT_MAX_BODY_BYTES),
    OMNICHART_MAX_ANONYMOUS_BODY_BYTES: int(1024, 256 * 1024 * 1024).default(
      DEFAULT_MAX_ANONYMOUS_BODY_BYTES,
    ),
    OMNICHART_MAX_RESOURCE_BYTES: int(1024, 64 * 1024 * 1024).default(1024 * 1024),
    OMNICHART_MAX_JSON_DEPTH: int(8, 1000).default(64),
    OMNICHART_MAX_QUERY_COST: int(100, 100_000_000).default(DEFAULT_MAX_QUERY_COST),
    OMNICHART_MAX_DECRYPTIONS_PER_OPERATION: int(1, 1_000_000).default(DEFAULT_MAX_DECRYPTIONS),
    OMNICHART_VALIDATION_THREADS: int(0, 64).optional(),
    OMNICHART_VALIDATION_MIN_ENTRIES: int(1, 1_000_000).default(DEFAULT_VALIDATION_MIN_ENTRIES),
    OMNICHART_RESEARCH_MIN_CELL_SIZE: int(MIN_RESEARCH_CELL_SIZE, 1_000_000).default(MIN_RESEARCH_CELL_SIZE),
    OMNICHART_RESEARCH_EPSILON: z.coerce.number().positive().max(100).optional(),
    // Each URL is checked in buildConfig (https, or http to loopback with OMNICHART_ALLOW_HTTP_PEERS).
    OMNICHART_PEERS: z.string().default(''),
    OMNICHART_ALLOW_HTTP_PEERS: z.enum(['true', 'false']).default('false'),
    OMNICHART_MAX_INDEXER_LAG_SECONDS: int(1, 24 * 3600).default(DEFAULT_MAX_INDEXER_LAG_SECONDS),
    OMNICHART_MAX_ANCHOR_BACKLOG_SECONDS: int(1, 7 * 24 * 3600).default(300),
    OMNICHART_METRICS: z.enum(['true', 'false']).default('true'),
    OMNICHART_METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
    OMNICHART_CORS_ORIGINS: z.string().default(''),
    OMNICHART_RATE_LIMITS: z.enum(['on', 'off']).default('on'),
    // Express `trust proxy` values: addresses, CIDR ranges or loopback/linklocal/uniquelocal.
    OMNICHART_TRUSTED_PROXIES: z.string().default(''),
    ...rateLimitEnvironment(),
    OMNICHART_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  })
  .superRefine((env, ctx) => {
    if (env.CHAIN_RPC_URL && !env.OMNICHART_RELAYER_KEY) {
      ctx.addIssue({
        code: 'custom',
        path: ['OMNICHART_RELAYER_KEY'],
        message: 'is required when CHAIN_RPC_URL is set (the account that relays and pays gas)',
      });
    }
    for (const origin of splitList(env.OMNICHART_CORS_ORIGINS)) {
      if (!isOrigin(origin)) {
        ctx.addIssue({
          code: 'custom',
          path: ['OMNICHART_CORS_ORIGINS'],
          message: `has ${JSON.stringify(origin)}, which is not an origin like https://app.example.org`,
        });
      }
    }
    if (env.OMNICHART_REPLICAS === 'on') {
      // Embedded Postgres and anvil live in one replica's data dir; a generated passphrase too.
      for (const name of ['DATABASE_URL', 'CHAIN_RPC_URL', 'OMNICHART_KEY_PASSPHRASE'] as const) {
        if (!env[name]) {
          ctx.addIssue({
            code: 'custom',
            path: [name],
            message: 'is required when OMNICHART_REPLICAS=on (every replica shares it)',
          });
        }
      }
    }
    if (!env.CHAIN_RPC_URL && (env.OMNICHART_RELAYER_KEY || env.OMNICHART_CONTRACT_ADDRESS)) {
      ctx.addIssue({
        code: 'custom',
        path: ['CHAIN_RPC_URL'],
        message: 'is required when a relayer key or contract address is given',
      });
    }
  });

function splitList(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

/** Browsers send `Origin: scheme://host[:port]`; anything more (a path, `*`) would never match. */
function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return /^https?:$/.test(url.protocol) && url.origin === value.replace(/\/$/, '');
  } catch {
    return false;
  }
}

function rateLimitEnvironment() {
  const shape: Record<string, z.ZodDefault<z.ZodCoercedNumber>> = {};
  for (const [name, stem] of Object.entries(RATE_LIMIT_ENV) as [RateLimitName, string][]) {
    shape[`OMNICHART_RATE_LIMIT_${stem}_PER_IP`] = int(0, 1_000_000).default(DEFAULT_RATE_LIMITS[name].perIp);
    shape[`OMNICHART_RATE_LIMIT_${stem}_PER_ACCOUNT`] = int(0, 1_000_000).default(
      DEFAULT_RATE_LIMITS[name].perAccount,
    );
  }
  return shape;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export interface Config {
  dataDir: string;
  http: {
    host: string;
    port: number;
    publicUrl?: string;
    /** Largest request body from a signed-in caller (a bundle import). */
    maxBodyBytes: number;
    /** Largest request body without a valid session token, and largest WebSocket message. */
    maxAnonymousBodyBytes: number;
    /** Browser origins sent CORS headers (exact `scheme://host[:port]`); empty: none. */
    corsOrigins: string[];
  };
  /** GET /metrics: loopback callers only, or anyone with the token when one is set. */
  metrics: { enabled: boolean; token?: string };
  /** Absent url: run embedded Postgres inside the data dir. */
  database: { url?: string };
  /** Absent rpcUrl: spawn anvil with state kept in the data dir. */
  chain: {
    rpcUrl?: string;
    relayerKey?: string;
    contractAddress?: string;
    anchorBatchSize: number;
    anchorIntervalMs: number;
    /** How often audit entries are closed into Merkle batches and their roots anchored. */
    auditAnchorIntervalMs: number;
    /** Idle poll interval of the chain event indexer. */
    indexerIntervalMs: number;
    /**
     * How old the last successful catch-up with the chain may be while the chain cannot be read:
     * beyond it, grant-based access answers SERVICE_UNAVAILABLE and /readyz answers 503.
     */
    maxIndexerLagSeconds: number;
    /** /readyz answers 503 while a record has waited longer than this for its anchor. */
    maxAnchorBacklogSeconds: number;
  };
  ipfs: {
    blockstoreDir: string;
    /** The libp2p private key (the node's peer id), created on first start. */
    peerKeyFile: string;
    /** libp2p listen multiaddrs; empty: no listening socket. */
    listen: string[];
    /** The only libp2p peers dialled, each ending in /p2p/<peer id>. */
    peers: string[];
    /** How long a read waits for libp2p peers to send content not held here. */
    fetchTimeoutMs: number;
    /** GET /ipfs/<cid> without `Accept` or `?format`: 400 when strict, the whole file otherwise. */
    gatewayStrict: boolean;
  };
  /** Absent kuboApiUrl: no pinning elsewhere (the blockstore here is the only copy this node keeps). */
  pinning: {
    /** Kubo's RPC API or an IPFS Cluster proxy of it; every stored object is pinned there too. */
    kuboApiUrl?: string;
    /** Authorization header value for it (`Basic ...`, `Bearer ...`). */
    authorization?: string;
    batchSize: number;
    intervalMs: number;
    requestTimeoutMs: number;
  };
  /** The node keys: `file` (default `<data dir>/node-keys.json`) sealed with the passphrase. */
  keys: { passphrase?: string; file: string };
  /**
   * Replicas of one node on one Postgres: the leader (advisory lock) indexes the chain, anchors audit
   * roots and trains; every replica serves requests and anchors records. Off: one process per node.
   */
  replicas: { enabled: boolean; leaderIntervalMs: number };
  auth: {
    sessionTtlSeconds: number;
    challengeTtlSeconds: number;
    admins: string[];
    /** Break-glass accesses one practitioner may open in any 24 hours. */
    breakGlassDailyLimit: number;
  };
  limits: {
    maxResourceBytes: number;
    maxJsonDepth: number;
    /** Largest estimated cost of one GraphQL operation (see src/api/query-cost.ts). */
    maxQueryCost: number;
    /** Records one GraphQL operation may decrypt; more answers TOO_MANY_DECRYPTIONS. */
    maxDecryptionsPerOperation: number;
  };
  /** FHIR validation of large Bundles on worker threads (src/records/validation-pool.ts). */
  validation: {
    /** Worker threads (default: one per core); 0 keeps validation on the main thread. */
    threads: number;
    /** Bundles with fewer entries are validated on the main thread. */
    minEntries: number;
  };
  /** Research queries (cohortStatistics) over patients who granted `research`. */
  research: {
    /** k: cells counting fewer patients are suppressed; at least MIN_RESEARCH_CELL_SIZE. */
    minCellSize: number;
    /** Laplace noise of scale 1/epsilon on every released count; null: exact counts. */
    epsilon: number | null;
  };
  rateLimits: {
    /** Off only for benchmarks that measure throughput beyond the limits. */
    enabled: boolean;
    /**
     * Proxies whose X-Forwarded-For is believed (express `trust proxy` values); empty: the client
     * address is the socket's, whatever headers say.
     */
    trustedProxies: string[];
    rules: Record<RateLimitName, RateLimitRule>;
  };
  /** Base URLs of the other nodes on the same chain and contract (content and registrations come from them). */
  peers: string[];
  /** Accept http:// peers on loopback hosts (development and tests); otherwise peers must be https://. */
  peersAllowHttp: boolean;
  /**
   * Relayer addresses of other nodes whose box keys (read from the chain) records are wrapped for,
   * besides those learned from `peers`: how nodes joined only over libp2p read each other's records.
   */
  peerRelayers: string[];
  logLevel: LogLevel;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Reads and validates the process environment; throws ConfigError listing every problem. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = environmentSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')} ${issue.message}`));
  }
  const e = parsed.data;
  const dataDir = path.resolve(e.OMNICHART_DATA_DIR);
  return buildConfig({
    dataDir,
    http: {
      host: e.OMNICHART_HOST,
      port: e.OMNICHART_PORT,
      publicUrl: e.OMNICHART_PUBLIC_URL,
      maxBodyBytes: e.OMNICHART_MAX_BODY_BYTES,
      maxAnonymousBodyBytes: e.OMNICHART_MAX_ANONYMOUS_BODY_BYTES,
      corsOrigins: splitList(e.OMNICHART_CORS_ORIGINS).map((o) => new URL(o).origin),
    },
    metrics: { enabled: e.OMNICHART_METRICS === 'true', token: e.OMNICHART_METRICS_TOKEN },
    database: { url: e.DATABASE_URL },
    chain: {
      rpcUrl: e.CHAIN_RPC_URL,
      relayerKey: e.OMNICHART_RELAYER_KEY,
      contractAddress: e.OMNICHART_CONTRACT_ADDRESS,
      anchorBatchSize: e.OMNICHART_ANCHOR_BATCH_SIZE,
      anchorIntervalMs: e.OMNICHART_ANCHOR_INTERVAL_MS,
      auditAnchorIntervalMs: e.OMNICHART_AUDIT_ANCHOR_INTERVAL_MS,
      indexerIntervalMs: e.OMNICHART_INDEXER_INTERVAL_MS,
      maxIndexerLagSeconds: e.OMNICHART_MAX_INDEXER_LAG_SECONDS,
      maxAnchorBacklogSeconds: e.OMNICHART_MAX_ANCHOR_BACKLOG_SECONDS,
    },
    ipfs: {
      blockstoreDir: path.resolve(e.OMNICHART_BLOCKSTORE_DIR ?? path.join(dataDir, 'blocks')),
      listen: splitList(e.OMNICHART_IPFS_LISTEN),
      peers: splitList(e.OMNICHART_IPFS_PEERS),
      fetchTimeoutMs: e.OMNICHART_IPFS_FETCH_TIMEOUT_MS,
      gatewayStrict: e.OMNICHART_GATEWAY_STRICT === 'true',
    },
    pinning: { kuboApiUrl: e.OMNICHART_KUBO_API, authorization: e.OMNICHART_KUBO_API_AUTHORIZATION },
    keys: {
      passphrase: e.OMNICHART_KEY_PASSPHRASE,
      ...(e.OMNICHART_NODE_KEYS_FILE ? { file: path.resolve(e.OMNICHART_NODE_KEYS_FILE) } : {}),
    },
    replicas: { enabled: e.OMNICHART_REPLICAS === 'on', leaderIntervalMs: e.OMNICHART_LEADER_INTERVAL_MS },
    auth: {
      sessionTtlSeconds: e.OMNICHART_SESSION_TTL_SECONDS,
      challengeTtlSeconds: e.OMNICHART_CHALLENGE_TTL_SECONDS,
      admins: e.OMNICHART_ADMINS.split(',')
        .map((a) => a.trim().toLowerCase())
        .filter(Boolean),
      breakGlassDailyLimit: e.OMNICHART_BREAK_GLASS_DAILY_LIMIT,
    },
    limits: {
      maxResourceBytes: e.OMNICHART_MAX_RESOURCE_BYTES,
      maxJsonDepth: e.OMNICHART_MAX_JSON_DEPTH,
      maxQueryCost: e.OMNICHART_MAX_QUERY_COST,
      maxDecryptionsPerOperation: e.OMNICHART_MAX_DECRYPTIONS_PER_OPERATION,
    },
    validation: {
      threads: e.OMNICHART_VALIDATION_THREADS ?? DEFAULT_VALIDATION_THREADS,
      minEntries: e.OMNICHART_VALIDATION_MIN_ENTRIES,
    },
    research: {
      minCellSize: e.OMNICHART_RESEARCH_MIN_CELL_SIZE,
      epsilon: e.OMNICHART_RESEARCH_EPSILON ?? null,
    },
    rateLimits: {
      enabled: e.OMNICHART_RATE_LIMITS === 'on',
      trustedProxies: e.OMNICHART_TRUSTED_PROXIES.split(',')
        .map((p) => p.trim())
        .filter(Boolean),
      rules: Object.fromEntries(
        (Object.entries(RATE_LIMIT_ENV) as [RateLimitName, string][]).map(([name, stem]) => {
          const env = e as unknown as Record<string, number>;
          return [
            name,
            {
              perIp: env[`OMNICHART_RATE_LIMIT_${stem}_PER_IP`],
              perAccount: env[`OMNICHART_RATE_LIMIT_${stem}_PER_ACCOUNT`],
              windowSeconds: DEFAULT_RATE_LIMITS[name].windowSeconds,
            },
          ];
        }),
      ) as Record<RateLimitName, RateLimitRule>,
    },
    peers: e.OMNICHART_PEERS.split(',')
      .map((u) => u.trim().replace(/\/+$/, ''))
      .filter(Boolean),
    peersAllowHttp: e.OMNICHART_ALLOW_HTTP_PEERS === 'true',
    peerRelayers: splitList(e.OMNICHART_PEER_RELAYERS).map((a) => a.toLowerCase()),
    logLevel: e.OMNICHART_LOG_LEVEL,
  });
}

export type ConfigOverrides = { dataDir: string } & {
  [K in keyof Omit<Config, 'dataDir'>]?: Config[K] extends unknown[]
    ? Config[K]
    : Config[K] extends object
      ? Partial<Config[K]>
      : Config[K];
};

/**
 * A complete config from the defaults plus overrides; what tests and benchmarks use. Throws
 * ConfigError for a peer URL that the transport rule refuses (see peerUrlProblem).
 */
export function buildConfig(overrides: ConfigOverrides): Config {
  const dataDir = path.resolve(overrides.dataDir);
  const peers = overrides.peers ?? [];
  const peersAllowHttp = overrides.peersAllowHttp ?? false;
  const peerProblems = peers.flatMap((peer) => {
    const problem = peerUrlProblem(peer, peersAllowHttp);
    return problem ? [`OMNICHART_PEERS ${problem}`] : [];
  });
  const ipfs = {
    blockstoreDir: path.join(dataDir, 'blocks'),
    peerKeyFile: path.join(dataDir, 'ipfs-peer.key'),
    listen: [],
    peers: [],
    fetchTimeoutMs: 10_000,
    gatewayStrict: false,
    ...overrides.ipfs,
  };
  const peerRelayers = overrides.peerRelayers ?? [];
  const research = { minCellSize: MIN_RESEARCH_CELL_SIZE, epsilon: null, ...overrides.research };
  const problems = [
    ...problemOf(
      'OMNICHART_RESEARCH_MIN_CELL_SIZE',
      Number.isInteger(research.minCellSize) && research.minCellSize >= MIN_RESEARCH_CELL_SIZE
        ? null
        : `must be a whole number of at least ${MIN_RESEARCH_CELL_SIZE}`,
    ),
    ...problemOf(
      'OMNICHART_RESEARCH_EPSILON',
      research.epsilon === null || (research.epsilon > 0 && Number.isFinite(research.epsilon))
        ? null
        : 'must be a positive number',
    ),
    ...peerProblems,
    ...ipfs.listen.flatMap((a) => problemOf('OMNICHART_IPFS_LISTEN', multiaddrProblem(a, 'listen'))),
    ...ipfs.peers.flatMap((a) => problemOf('OMNICHART_IPFS_PEERS', multiaddrProblem(a, 'peer'))),
    ...peerRelayers.flatMap((a) =>
      problemOf('OMNICHART_PEER_RELAYERS', address.safeParse(a).success ? null : `has ${a}, not an address`),
    ),
  ];
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    dataDir,
    http: {
      host: '127.0.0.1',
      port: 4000,
      maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
      maxAnonymousBodyBytes: DEFAULT_MAX_ANONYMOUS_BODY_BYTES,
      corsOrigins: [],
      ...overrides.http,
    },
    metrics: { enabled: true, ...overrides.metrics },
    database: { ...overrides.database },
    chain: {
      anchorBatchSize: 250,
      anchorIntervalMs: 250,
      auditAnchorIntervalMs: 10_000,
      indexerIntervalMs: 1_000,
      maxIndexerLagSeconds: DEFAULT_MAX_INDEXER_LAG_SECONDS,
      maxAnchorBacklogSeconds: 300,
      ...overrides.chain,
    },
    ipfs,
    pinning: { batchSize: 16, intervalMs: 2_000, requestTimeoutMs: 30_000, ...overrides.pinning },
    keys: { file: path.join(dataDir, 'node-keys.json'), ...overrides.keys },
    replicas: { enabled: false, leaderIntervalMs: 1_000, ...overrides.replicas },
    auth: {
      sessionTtlSeconds: 12 * 3600,
      challengeTtlSeconds: 300,
      admins: [],
      breakGlassDailyLimit: 5,
      ...overrides.auth,
    },
    limits: {
      maxResourceBytes: 1024 * 1024,
      maxJsonDepth: 64,
      maxQueryCost: DEFAULT_MAX_QUERY_COST,
      maxDecryptionsPerOperation: DEFAULT_MAX_DECRYPTIONS,
      ...overrides.limits,
    },
    validation: {
      threads: DEFAULT_VALIDATION_THREADS,
      minEntries: DEFAULT_VALIDATION_MIN_ENTRIES,
      ...overrides.validation,
    },
    research,
    rateLimits: {
      enabled: true,
      trustedProxies: [],
      ...overrides.rateLimits,
      // A test that tightens one limit keeps the defaults of the others.
      rules: { ...DEFAULT_RATE_LIMITS, ...overrides.rateLimits?.rules },
    },
    peers,
    peersAllowHttp,
    peerRelayers,
    logLevel: overrides.logLevel ?? 'info',
  };
}

function problemOf(variable: string, problem: string | null): string[] {
  return problem ? [`${variable} ${problem}`] : [];
}
