import net from 'node:net';
import { buildSchema } from 'type-graphql';
import type { GraphQLSchema } from 'graphql';
import { startHttpServer, type HttpServer } from './api/http-server.js';
import { createMetrics } from './api/metrics.js';
import { checkReadiness } from './api/readiness.js';
import { unusedPubSub } from './api/subscriptions.js';
import { AccountService } from './auth/account-service.js';
import { LoginService } from './auth/login-service.js';
import { RateLimits, noRateLimits, type RateLimiting } from './auth/rate-limits.js';
import { CachedAccessState } from './auth/access-state.js';
import { ConsentPolicy } from './auth/consent-policy.js';
import { AccessAlertBus } from './audit/access-alerts.js';
import { AlertLog } from './audit/alert-log.js';
import { AttestationService } from './auth/attestation-service.js';
import { BreakGlassService } from './consent/break-glass-service.js';
import { AuditAnchorer } from './audit/audit-anchorer.js';
import { AuditLog } from './audit/audit-log.js';
import { GrantService } from './consent/grant-service.js';
import { KeyRotation } from './consent/key-rotation.js';
import { KeySharing } from './consent/key-sharing.js';
import { ChainSync } from './sync/chain-sync.js';
import { catchUpOncePerOperation } from './sync/operation-catch-up.js';
import { publishNodeKey } from './sync/node-identity.js';
import { withPeerFallback } from './sync/peer-content-store.js';
import { PeerNetwork } from './sync/peer-network.js';
import { PeerSync } from './sync/peer-sync.js';
import {
  CacheRebuild,
  REBUILD_BLOCK_RANGE,
  type RebuildProgress,
  type RebuildSummary,
} from './sync/rebuild.js';
import { replayAuditRoot } from './audit/audit-root-replay.js';
import type { Config } from './config.js';
import { OmnichartError } from './errors.js';
import type { AccountRegisteredEvent } from './ledger/chain-events.js';
import { lockDataDir } from './data-dir-lock.js';
import { OperationScope } from './operation-scope.js';
import { createLogger, withLogScope, type Logger } from './logger.js';
import { AnchorQueue } from './ledger/anchor-queue.js';
import type { Ledger } from './ledger/chain-client.js';
import { openLedger } from './ledger/chain-client.js';
import { blockTimeOver } from './ledger/block-time.js';
import { openEmbeddedLedger, type EmbeddedLedger } from './ledger/embedded-chain.js';
import { loadFhirDefinitions } from './records/fhir-validation.js';
import { ChartService } from './records/chart-service.js';
import { RecordService } from './records/record-service.js';
import type { GranteeKeys } from './records/record-writer.js';
import { StageTimer } from './records/stage-timer.js';
import { ValidationPool } from './records/validation-pool.js';
import { AccountResolver } from './resolvers/account.resolver.js';
import { AuditResolver } from './resolvers/audit.resolver.js';
import { ModelResolver } from './resolvers/model.resolver.js';
import { CohortResolver } from './resolvers/cohort.resolver.js';
import { ResearchAccess } from './auth/research-access.js';
import { CohortService } from './research/cohort-service.js';
import { CohortTraining } from './research/cohort-training.js';
import { KeyedLaplaceNoise, deriveResearchNoiseKey } from './research/laplace-noise.js';
import { ModelService, type Trainer } from './ml/model-service.js';
import { GrantResolver } from './resolvers/grant.resolver.js';
import { IdentityResolver } from './resolvers/identity.resolver.js';
import type { Services } from './resolvers/context.js';
import { ChartResolver, TimelineResolver } from './resolvers/chart.resolver.js';
import { RecordResolver } from './resolvers/record.resolver.js';
import { createRecipientKeyFilter } from './storage/box-key.js';
import { probeContentStore } from './storage/content-probe.js';
import type { ContentStore } from './storage/content-store.js';
import { openDatabase, type Database } from './storage/database.js';
import { createStores } from './storage/stores.js';
import { openContentStore } from './storage/helia-content-store.js';
import type { PinQueue } from './storage/pin-queue.js';
import { startPinning } from './storage/pinning.js';
import { RateLimitStore } from './storage/rate-limit-store.js';
import { loadOrCreateNodeKeys, type NodeKeys } from './storage/node-keys.js';
import { SessionEvents } from './storage/session-events.js';
import { LeaderElection } from './storage/leader-election.js';
import { ReplicaChannel } from './storage/replica-channel.js';
import { relayerNonceLock } from './storage/relayer-nonce-lock.js';
import { LeaderDuties } from './sync/leader-duties.js';
import { fanOutAcrossReplicas } from './sync/replica-fanout.js';
import { isUuid } from './uuid.js';
import path from 'node:path';

export interface OmnichartNode {
  /** Where GraphQL listens, e.g. http://127.0.0.1:4000/graphql */
  readonly url: string;
  readonly config: Config;
  readonly keys: NodeKeys;
  readonly database: Database;
  readonly content: ContentStore;
  readonly ledger: Ledger;
  readonly anchorQueue: AnchorQueue;
  /** Pins every stored object to Kubo; absent when OMNICHART_KUBO_API is not set. */
  readonly pinQueue?: PinQueue;
  readonly auditAnchorer: AuditAnchorer;
  /** Which replica of the node leads (runs the indexer, audit anchorer and training). */
  readonly election: LeaderElection;
  readonly chainSync: ChainSync;
  readonly services: Services;
  /** What the cache rebuild at this start did; null when the cache was not empty. */
  readonly rebuild: RebuildSummary | null;
  close(): Promise<void>;
}

/**
 * Builds a node from a config: opens each store, wires the services, starts GraphQL. Wiring only;
 * over 400 lines because every part is built here, in start order, and closed in reverse, so the
 * order of start and stop reads top to bottom in one place.
 */
/** What a test may replace; the node runs without any of it. */
export interface NodeHooks {
  /** Trains models in process instead of on a worker thread (a worker needs the compiled code). */
  trainer?: Trainer;
  /** Rebuild the cache from the chain even though it is not empty (`omnichart rebuild --force`). */
  forceRebuild?: boolean;
  /** Told the rebuild's progress every few seconds (the rebuild command prints it). */
  onRebuildProgress?: (progress: RebuildProgress) => void;
}

export async function createNode(
  config: Config,
  baseLogger: Logger = createLogger(config.logLevel),
  hooks: NodeHooks = {},
): Promise<OmnichartNode> {
  // Lines written while serving a request or a subscription carry its ids (see runInLogScope).
  const logger = withLogScope(baseLogger);
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) {
      await close().catch((error: Error) => logger.error('error while stopping', { error: error.message }));
    }
  };
  try {
    closers.push(await lockDataDir(config.dataDir));
    const keys = await loadOrCreateNodeKeys({
      dataDir: config.dataDir,
      passphrase: config.keys.passphrase,
      keyFile: config.keys.file,
      logger,
    });
    const database = await openDatabase({ url: config.database.url, dataDir: config.dataDir, logger });
    closers.push(() => database.close());
    const sessionEvents = new SessionEvents(database.url, logger);
    await sessionEvents.start();
    closers.push(() => sessionEvents.stop());
    // Replicas of one node: one leader by advisory lock, notices to the others over LISTEN/NOTIFY. A
    // lone process leads from its start, so one process per node runs as before.
    const replicaChannel = new ReplicaChannel(database.url, database.dataSource, logger);
    await replicaChannel.start();
    closers.push(() => replicaChannel.stop());
    const election = new LeaderElection({
      url: database.url,
      intervalMs: config.replicas.leaderIntervalMs,
      // One process per node expects to lead: give a crashed predecessor's session time to go.
      waitAtStartMs: config.replicas.enabled ? 0 : 3_000,
      logger,
    });
    await election.start();
    closers.push(() => election.stop());
    const blockstore = await openContentStore({
      blockstoreDir: config.ipfs.blockstoreDir,
      peerKeyFile: config.ipfs.peerKeyFile,
      network: config.ipfs,
      logger,
    });
    closers.push(() => blockstore.close());
    const stores = createStores(database.dataSource);
    stores.accounts.cacheWith(sessionEvents);
    const pinning = startPinning(config.pinning, stores.pinOutbox, blockstore, logger);
    closers.push(async () => pinning.queue?.stop());
    const content = pinning.content;
    const ledger = await openConfiguredLedger(config, keys, logger, database);
    closers.push(() => ledger.close());
    await publishNodeKey(ledger, keys, logger, { replica: config.replicas.enabled });
    const peers = new PeerNetwork({
      peers: config.peers,
      relayers: config.peerRelayers,
      ledger,
      ownRelayer: ledger.relayerAddress,
      content,
      logger,
    });
    // Content written at other nodes is fetched from them (verified against its CID) and kept here.
    const sharedContent = peers.configured ? withPeerFallback(content, peers) : content;
    loadFhirDefinitions();

    // Every SQL statement the services below run goes through these stores (src/storage).
    const timer = new StageTimer();
    const anchorQueue = new AnchorQueue({
      outbox: stores.anchorOutbox,
      ledger,
      batchSize: config.chain.anchorBatchSize,
      intervalMs: config.chain.anchorIntervalMs,
      logger,
      signer: election.presenceKey,
      onBatch: (_size, ms) => timer.add('anchorBatch', ms),
    });
    anchorQueue.start();
    closers.push(() => anchorQueue.stop());

    const port = config.http.port === 0 ? await freePort(config.http.host) : config.http.port;
    const publicUrl = config.http.publicUrl ?? `http://${hostForUrl(config.http.host)}:${port}`;
    const audit = new AuditLog(stores.audit);
    const alerts = new AlertLog(stores.alerts, new AccessAlertBus());
    const auditAnchorer = new AuditAnchorer({
      store: stores.audit,
      ledger,
      intervalMs: config.chain.auditAnchorIntervalMs,
      logger,
    });
    closers.push(() => auditAnchorer.stop());
    // Entitlement, revocations and break-glass endings are dated by block time; the embedded chain's
    // URL is read per call.
    const blockTime = blockTimeOver(
      () => config.chain.rpcUrl ?? (ledger as EmbeddedLedger).chain.anvil.rpcUrl,
    );
    const chainHead = async () => (await ledger.latestBlock()).number;
    const rebuild = new CacheRebuild({
      stores: { cursors: stores.chainCursors, cache: stores.cacheState },
      chainHead,
      logger,
    });
    // Only the leader rebuilds; a follower waits for it (it is not ready while the marker stands).
    const leadsAtStart = election.role === 'leader';
    const rebuildStart = leadsAtStart ? await rebuild.prepare({ force: hooks.forceRebuild }) : 'none';
    const chainSync = new ChainSync({
      cursors: stores.chainCursors,
      quarantine: stores.syncQuarantine,
      ledger,
      pollIntervalMs: config.chain.indexerIntervalMs,
      maxLagSeconds: config.chain.maxIndexerLagSeconds,
      logger,
      requestCatchUp: () =>
        void replicaChannel
          .notify('catchUp', 'now')
          .catch((error: Error) => logger.debug('catch-up request not sent', { error: error.message })),
    });
    // The sync step of an operation: decisions that rest on grants or attestations read the cache
    // only after it caught up with the chain, once per operation (fail closed past the lag bound).
    const operations = new OperationScope();
    const syncChain = catchUpOncePerOperation(operations, () => chainSync.ensureCurrent());
    const attestations = new AttestationService({
      attestations: stores.attestations,
      ledger,
      syncChain,
      applyRelayed: () => chainSync.ensureCurrent(),
    });
    const breakGlass = new BreakGlassService({
      breakGlass: stores.breakGlass,
      accounts: stores.accounts,
      ledger,
      audit,
      alerts,
      attestations,
      dailyLimit: config.auth.breakGlassDailyLimit,
      blockTime,
    });
    const policy = new ConsentPolicy({
      state: new CachedAccessState({
        grants: stores.grants,
        // Grant-based decisions fail closed (SERVICE_UNAVAILABLE) on a cache beyond the lag bound.
        caughtUp: syncChain,
        breakGlassHolds: async (grant) =>
          (await attestations.isAttested(grant.grantee, 'PRACTITIONER')) &&
          !(await breakGlass.refuses(grant.patient)),
      }),
      accounts: stores.accounts,
      timer,
      audit,
      alerts,
      operations,
    });
    const keyShareStore = stores.keyShares;
    const keySharing = new KeySharing({
      store: keyShareStore,
      content: sharedContent,
      keys,
      logger,
    });
    const grants = new GrantService({
      grants: stores.grants,
      accounts: stores.accounts,
      ledger,
      audit,
      onGranted: (grant, granteeBoxKey) => keySharing.shareWith(grant, granteeBoxKey).then(() => undefined),
      blockTime,
    });
    // The relayer's own audit roots; other nodes' roots describe their logs, not this one's.
    const ownTx = async (txHash: string) =>
      (await ledger.transactionSender(txHash))?.toLowerCase() === ledger.relayerAddress.toLowerCase();
    chainSync.on(async (event) => {
      switch (event.type) {
        case 'GrantCreated':
          return grants.applyChainGrant(event);
        case 'GrantRevoked':
          return grants.applyChainRevoke(event);
        case 'OrganizationAdmitted':
          return attestations.applyOrganizationAdmitted(event);
        case 'Attested':
          return attestations.applyAttested(event);
        case 'AttestationRevoked':
          return attestations.applyAttestationRevoked(event);
        case 'BreakGlass':
          return breakGlass.applyBreakGlass(event);
        case 'BreakGlassEnded':
          return breakGlass.applyBreakGlassEnded(event);
        case 'BreakGlassPolicySet':
          return breakGlass.applyBreakGlassPolicy(event);
        case 'AuditRootAnchored':
          // Outside a rebuild the anchorer writes its own batch rows (with their entries).
          if (rebuild.running) await replayAuditRoot(stores.audit, event, ownTx);
          return;
      }
    });
    // Record keys are wrapped for the patient, this node, the other nodes and covering grantees. Keys
    // from the chain or from accounts stored before registration checked them may be unusable: those
    // recipients are left out (and logged once) so the write goes on for everyone else.
    const usableRecipients = createRecipientKeyFilter((key) =>
      logger.warn('recipient box key is unusable; record keys are not wrapped for it', key),
    );
    const recipientKeys: GranteeKeys = async (resourceTypes, consents) => {
      const nodeKeys = await peers.nodeKeys();
      const grantees = grants.granteeKeysFor(resourceTypes, consents);
      return new Map(
        resourceTypes.map((type) => [type, usableRecipients([...nodeKeys, ...grantees.get(type)!])]),
      );
    };
    const recordStore = stores.records;
    const validationPool = new ValidationPool({ ...config.validation, logger });
    closers.push(() => validationPool.close());
    const records = new RecordService({
      stores: {
        records: recordStore,
        writes: stores.recordWrites,
        adoption: stores.recordAdoption,
      },
      content: sharedContent,
      ledger,
      keys,
      policy,
      limits: config.limits,
      validationPool,
      onRecordWritten: () => anchorQueue.notify(),
      granteeKeys: recipientKeys,
      timer,
      // Entitlement is judged at the anchor block's time.
      blockTime,
      logger,
    });
    const models = new ModelService({
      content: sharedContent,
      ledger,
      trainingJobs: stores.trainingJobs,
      trainedModelsDir: path.join(config.dataDir, 'models'),
      trainer: hooks.trainer,
      requireAttestedAnalyst: (caller) => attestations.requireAttested(caller, 'ANALYST'),
      replica: {
        leads: () => election.role === 'leader',
        announce: (id) =>
          void replicaChannel
            .notify('training', id)
            .catch((error: Error) => logger.warn('training notice not sent', { error: error.message })),
      },
      chart: { open: (caller, patient, budget) => records.openChart(caller, patient, 'predict', budget) },
      logger,
    });
    const researchAccess = new ResearchAccess({ attestations, research: stores.research });
    const cohortTraining = new CohortTraining({
      access: researchAccess,
      research: stores.research,
      openChart: (patient, budget) => records.openResearchChart(patient, budget),
      train: (requestedBy, rows, algorithm) => models.trainOnCohort(requestedBy, rows, algorithm),
      audit,
      minCellSize: config.research.minCellSize,
    });
    const cohorts = new CohortService({
      access: researchAccess,
      research: stores.research,
      records,
      audit,
      minCellSize: config.research.minCellSize,
      noise:
        config.research.epsilon === null
          ? null
          : new KeyedLaplaceNoise(deriveResearchNoiseKey(keys.boxSecretKey), config.research.epsilon),
    });
    const published = await models.start();
    closers.push(() => models.close());
    if (published.refused.length > 0) logger.warn('models refused at load', { refused: published.refused });
    const limits = openRateLimits(config, database, logger);
    closers.push(() => limits.close());
    const accounts = new AccountService({
      accounts: stores.accounts,
      ledger,
      admins: config.auth.admins,
      // Counted per account only once the signature proves the account, so nobody spends another's.
      beforeRelay: (account) => limits.limits.consume('registerAccount', { account }),
    });
    const peerSync = new PeerSync({
      heldVersions: stores.heldVersions,
      peers,
      content: sharedContent,
      records,
      logger,
      onOutcome: (outcome) => {
        if (!rebuild.running) return;
        rebuild.counts[outcome === 'refused' ? 'refused' : outcome] += 1;
      },
    });
    chainSync.on(async (event) => {
      if (event.type !== 'AccountRegistered') return;
      await adoptAccount(accounts, event, logger);
    });
    chainSync.onBatch((events) => peerSync.apply(events));
    closers.push(() => chainSync.stop());
    fanOutAcrossReplicas({
      channel: replicaChannel,
      events: records.events,
      records: recordStore,
      alerts,
      logger,
      announce: config.replicas.enabled,
    });
    replicaChannel.on('catchUp', () => {
      if (chainSync.indexing) void chainSync.catchUp().catch(() => undefined);
    });
    replicaChannel.on('training', (id) => {
      if (isUuid(id))
        void models
          .heardTraining(id)
          .catch((error: Error) => logger.warn('training notice not handled', { error: error.message }));
    });
    const duties = new LeaderDuties({
      logger,
      lead: async () => {
        // A takeover resumes a rebuild the previous leader left unfinished (or starts one on an empty cache).
        if (!rebuild.running) await rebuild.prepare();
        await chainSync.start({ maxBlockRange: rebuild.running ? REBUILD_BLOCK_RANGE : undefined });
        auditAnchorer.start();
        await models.lead();
      },
      follow: async () => {
        await auditAnchorer.stop();
        await models.follow();
        await chainSync.follow();
      },
    });
    if (leadsAtStart) {
      await chainSync.start({ maxBlockRange: rebuild.running ? REBUILD_BLOCK_RANGE : undefined });
      auditAnchorer.start();
    } else {
      await chainSync.follow();
    }
    const keyRotation = new KeyRotation({
      store: recordStore,
      grants: stores.grants,
      shares: keyShareStore,
      content: sharedContent,
      records,
    });
    const services: Services = {
      attestations,
      breakGlass,
      keyRotation,
      models,
      cohorts,
      cohortTraining,
      grants,
      keySharing,
      policy,
      audit,
      alerts,
      accounts,
      limits: limits.limits,
      logins: new LoginService({
        sessions: stores.sessions,
        sessionEvents,
        accountOf: (address) => accounts.find(address),
        chainId: ledger.chainId,
        publicUrl,
        challengeTtlSeconds: config.auth.challengeTtlSeconds,
        sessionTtlSeconds: config.auth.sessionTtlSeconds,
        beforeSession: (account) => limits.limits.consume('login', { account }),
      }),
      records,
      chart: new ChartService({ store: stores.chart, policy, records }),
    };
    const backlogs = stores.backlogs;
    const metrics = config.metrics.enabled
      ? createMetrics({
          sources: {
            anchorBacklog: () => backlogs.anchorBacklog(),
            auditBacklog: () => backlogs.auditBacklog(),
            pinBacklog: pinning.queue ? () => pinning.backlog() : undefined,
            // A scrape must not hang on a slow chain: past a second, the head of the last pass.
            indexerLag: async () => chainSync.lag(await withinMs(1000, chainHead()).catch(() => undefined)),
            leader: () => election.role === 'leader',
          },
        })
      : undefined;
    const http: HttpServer = await startHttpServer({
      host: config.http.host,
      port,
      maxBodyBytes: config.http.maxBodyBytes,
      maxAnonymousBodyBytes: config.http.maxAnonymousBodyBytes,
      maxJsonDepth: config.limits.maxJsonDepth,
      documentLimits: { maxCost: config.limits.maxQueryCost },
      maxDecryptionsPerOperation: config.limits.maxDecryptionsPerOperation,
      trustedProxies: config.rateLimits.trustedProxies,
      schema: await buildGraphQLSchema(),
      services,
      operations,
      logger,
      peerApi: {
        nodeInfo: () => ({
          relayerAddress: ledger.relayerAddress,
          chainId: ledger.chainId.toString(),
          contractAddress: ledger.contractAddress,
          peerId: content.peerId,
          ipfsAddresses: content.listenAddresses(),
          role: election.role,
        }),
        localContent: async (cid) => ((await content.has(cid)) ? content.get(cid) : null),
        localBlock: (cid) => content.block(cid),
        localCar: (cid, options) => content.car(cid, options),
        strict: config.ipfs.gatewayStrict,
      },
      readiness: () =>
        checkReadiness({
          role: () => election.role,
          pingDatabase: () => database.ping(),
          chainHead,
          indexer: chainSync,
          probeBlockstore: () => probeContentStore(content),
          anchorBacklog: () => backlogs.anchorBacklog(),
          maxAnchorBacklogSeconds: config.chain.maxAnchorBacklogSeconds,
          rebuild: () => rebuild.progress(chainSync),
        }),
      unavailable: () =>
        rebuild.running || chainSync.leaderRebuilding
          ? 'this node is rebuilding its cache from the chain; try again shortly'
          : null,
      hardening: { hsts: publicUrl.startsWith('https:'), corsOrigins: config.http.corsOrigins },
      metrics: metrics && { ...metrics, access: { token: config.metrics.token } },
    });
    closers.push(() => http.close());
    // The URL, so an operator (or a test) can watch /readyz while the rebuild runs.
    if (rebuildStart !== 'none') logger.info('cache rebuild', { start: rebuildStart, url: http.url });
    const rebuilt = leadsAtStart
      ? await rebuild.run(chainSync, { onProgress: hooks.onRebuildProgress })
      : null;
    if (leadsAtStart) await models.lead();
    // From now on every change of role moves the leader's work (a takeover's rebuild runs in the background).
    let rebuilding: Promise<unknown> | null = null;
    const runRebuild = () => {
      if (!rebuild.running || !chainSync.indexing || rebuilding) return;
      rebuilding = rebuild
        .run(chainSync)
        .catch((error: Error) => logger.error('rebuild failed', { error: error.message }))
        .finally(() => (rebuilding = null));
    };
    duties.assume(leadsAtStart ? 'leader' : 'follower');
    await duties.switchTo(election.role).then(runRebuild);
    election.onChange((role) => void duties.switchTo(role).then(runRebuild));
    return {
      rebuild: rebuilt,
      url: http.url,
      config,
      keys,
      database,
      content,
      ledger,
      anchorQueue,
      pinQueue: pinning.queue,
      auditAnchorer,
      election,
      chainSync,
      services,
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/** Accounts registered at any node arrive as chain events; one the rules refuse is logged, not fatal. */
async function adoptAccount(accounts: AccountService, event: AccountRegisteredEvent, logger: Logger) {
  try {
    await accounts.adoptRegistration(
      {
        address: event.account,
        role: event.role,
        displayName: event.displayName,
        boxPublicKey: Buffer.from(event.boxPublicKey).toString('base64'),
        issuedAt: event.issuedAt,
      },
      event.signature,
      event.txHash,
    );
  } catch (error) {
    if (!(error instanceof OmnichartError)) throw error;
    logger.warn('refused a registration from the chain', { account: event.account, error: error.message });
  }
}

/** Rate limits counted in the node's own Postgres, or none when the config turns them off. */
function openRateLimits(
  config: Config,
  database: Database,
  logger: Logger,
): { limits: RateLimiting; close(): Promise<void> } {
  if (!config.rateLimits.enabled) {
    logger.warn('rate limits are off (OMNICHART_RATE_LIMITS=off): for benchmarks only');
    return { limits: noRateLimits, close: async () => undefined };
  }
  const store = new RateLimitStore(database.dataSource);
  const limits = new RateLimits({
    rules: config.rateLimits.rules,
    limiter: store.limiter,
    logger,
  });
  return { limits, close: () => store.close() };
}

let schemaPromise: Promise<GraphQLSchema> | undefined;

/** The schema is the same for every node in a process; build it once. */
export function buildGraphQLSchema(): Promise<GraphQLSchema> {
  schemaPromise ??= buildSchema({
    resolvers: [
      AccountResolver,
      RecordResolver,
      ChartResolver,
      TimelineResolver,
      GrantResolver,
      IdentityResolver,
      AuditResolver,
      ModelResolver,
      CohortResolver,
    ],
    validate: false,
    pubSub: unusedPubSub,
  });
  return schemaPromise;
}

async function openConfiguredLedger(
  config: Config,
  keys: NodeKeys,
  logger: Logger,
  database: Database,
): Promise<Ledger> {
  if (!config.chain.rpcUrl) {
    return openEmbeddedLedger({ dataDir: config.dataDir, relayerKey: keys.relayerPrivateKey, logger });
  }
  return openLedger({
    rpcUrl: config.chain.rpcUrl,
    relayerKey: config.chain.relayerKey!,
    contractAddress: config.chain.contractAddress,
    deploymentFile: path.join(config.dataDir, 'deployment.json'),
    // Replicas share the relayer key: nonce assignment and broadcast go one at a time across them.
    nonceLock: config.replicas.enabled ? relayerNonceLock(database.dataSource) : undefined,
    logger,
  });
}

function withinMs<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

function hostForUrl(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
