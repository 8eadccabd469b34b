import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import type { GraphQLSchema } from 'graphql';
import type { Caller } from '../auth/caller.js';
import type { RateLimiting } from '../auth/rate-limits.js';
import { OmnichartError, UnauthenticatedError } from '../errors.js';
import type { Logger } from '../logger.js';
import { RequestContext, type Services } from '../resolvers/context.js';
import { clientAddressOf } from './client-address.js';
import { MAX_DOCUMENT_TOKENS, limitRules, type DocumentLimits } from './document-limits.js';
import { createErrorFormatter } from './format-error.js';
import { corsAllowlist, securityHeaders, type HttpHardeningOptions } from './http-hardening.js';
import { sendRefusal } from './http-errors.js';
import { refuseSubscriptionsOverHttp } from './http-subscriptions.js';
import { jsonDepthExceeds } from './json-depth.js';
import { metricsHandler, type Metrics, type MetricsAccess } from './metrics.js';
import { operationLogPlugin } from './operation-log.js';
import { peerRoutes, type PeerApi } from './peer-routes.js';
import type { ReadinessReport } from './readiness.js';
import { requestIdMiddleware } from './request-id.js';
import { stageTimingPlugin } from './stage-timing.js';
import { legacyJsonStatusCodes } from './status-codes.js';
import { attachSubscriptionServer } from './subscriptions.js';
import type { OperationScope } from '../operation-scope.js';

export interface HttpServerOptions {
  host: string;
  port: number;
  /** Largest body from a caller with a valid session token. */
  maxBodyBytes: number;
  /** Largest body from anyone else, and largest WebSocket message. */
  maxAnonymousBodyBytes: number;
  maxJsonDepth: number;
  /** Bounds on GraphQL documents, over HTTP and WebSocket alike. */
  documentLimits: DocumentLimits;
  /** Records one operation may decrypt. */
  maxDecryptionsPerOperation: number;
  schema: GraphQLSchema;
  services: Services;
  /** Each GraphQL request (and each operation over a socket) runs as one operation of this scope. */
  operations?: OperationScope;
  logger: Logger;
  /** Endpoints other nodes fetch content from. */
  peerApi?: PeerApi;
  /** Answers GET /readyz (200 when ready, 503 otherwise); without it /readyz is not served. */
  readiness?: () => Promise<ReadinessReport>;
  /**
   * Why GraphQL cannot answer yet (a cache rebuild in progress), or null. Until then /graphql answers
   * 503 SERVICE_UNAVAILABLE: a half-rebuilt cache would answer wrongly, not just slowly.
   */
  unavailable?: () => string | null;
  /** Security headers and CORS; default: no HSTS, no CORS. */
  hardening?: HttpHardeningOptions;
  /** Prometheus figures at GET /metrics; without it neither the route nor the plugin exists. */
  metrics?: Metrics & { access: MetricsAccess };
  /** Proxies whose X-Forwarded-For names the client (express `trust proxy` values); empty: none. */
  trustedProxies?: string[];
}

export interface HttpServer {
  /** e.g. http://127.0.0.1:4000/graphql */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Express + Apollo on one HTTP server; GraphQL at POST/GET /graphql, liveness at /healthz, readiness at /readyz. */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const app = express();
  app.disable('x-powered-by');
  const httpServer = http.createServer(app);
  app.use(requestIdMiddleware(options.logger));
  app.use(securityHeaders({ hsts: options.hardening?.hsts ?? false }));
  const cors = corsAllowlist(options.hardening?.corsOrigins ?? []);
  if (cors) app.use(cors);
  const apollo = new ApolloServer<RequestContext>({
    schema: options.schema,
    formatError: createErrorFormatter(options.logger),
    includeStacktraceInErrorResponses: false,
    parseOptions: { maxTokens: MAX_DOCUMENT_TOKENS },
    validationRules: limitRules(options.documentLimits),
    stopOnTerminationSignals: false,
    // Clients authenticate with bearer tokens, which browsers never attach on their own, so there is no
    // ambient credential to forge a request with; keeping CSRF checks would only refuse plain GET queries.
    csrfPrevention: false,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      legacyJsonStatusCodes,
      operationLogPlugin(options.logger),
      stageTimingPlugin(options.services.records.timer),
      ...(options.metrics ? [options.metrics.plugin] : []),
    ],
  });
  await apollo.start();

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  const readiness = options.readiness;
  if (readiness) {
    app.get('/readyz', async (_req, res) => {
      const report = await readiness();
      res.status(report.ready ? 200 : 503).json(report);
    });
  }
  if (options.metrics) app.get('/metrics', metricsHandler(options.metrics, options.metrics.access));
  if (options.peerApi) app.use(peerRoutes(options.peerApi, options.logger));
  const clientAddress = clientAddressOf(options.trustedProxies ?? []);
  const callers = new WeakMap<express.Request, Promise<Caller | null>>();
  const callerOf = (req: express.Request) => {
    let caller = callers.get(req);
    if (!caller) {
      const timer = options.services.records.timer;
      caller = timer.enabled
        ? timer.timeAsync('auth', () => callerFromHeader(req.headers.authorization, options.services))
        : callerFromHeader(req.headers.authorization, options.services);
      callers.set(req, caller);
    }
    return caller;
  };
  const unavailable = options.unavailable;
  if (unavailable) {
    app.use('/graphql', (_req, res, next) => {
      const reason = unavailable();
      if (reason === null) return next();
      res
        .status(503)
        .set('retry-after', '5')
        .json({ errors: [{ message: reason, extensions: { code: 'SERVICE_UNAVAILABLE' } }] });
    });
  }
  app.use(
    '/graphql',
    requestBudget(options.services.limits, clientAddress, callerOf),
    jsonBodyBySession(options, callerOf),
    rejectDeepJson(options.maxJsonDepth),
    refuseSubscriptionsOverHttp(),
    // One operation per request: however many resolvers ask, it catches up with the chain once and
    // audits the same access once (src/operation-scope.ts).
    (_req, _res, next) => (options.operations ? options.operations.run(next) : next()),
    expressMiddleware(apollo, {
      context: async ({ req }) =>
        new RequestContext(options.services, () => callerOf(req), {
          maxDecryptions: options.maxDecryptionsPerOperation,
          clientIp: clientAddress(req),
        }),
    }),
  );
  app.use(requestErrorHandler(options.logger, options));
  const subscriptions = attachSubscriptionServer({
    httpServer,
    path: '/graphql',
    schema: options.schema,
    services: options.services,
    operations: options.operations,
    logger: options.logger,
    callerFromHeader,
    clientAddress,
    maxPayload: options.maxAnonymousBodyBytes,
    documentLimits: options.documentLimits,
    maxDecryptionsPerOperation: options.maxDecryptionsPerOperation,
  });

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(options.port, options.host, () => resolve());
  });
  const { port } = httpServer.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}/graphql`,
    port,
    async close() {
      await subscriptions.close();
      await apollo.stop();
      if (httpServer.listening) await new Promise((resolve) => httpServer.close(resolve));
    },
  };
}

async function callerFromHeader(header: string | undefined, services: Services): Promise<Caller | null> {
  if (!header) return null;
  const match = /^Bearer ([A-Za-z0-9_-]{20,100})$/.exec(header.trim());
  if (!match) throw new UnauthenticatedError('Authorization header must be `Bearer <token>` from login');
  return services.logins.authenticate(match[1]);
}

/**
 * Parses JSON bodies up to `maxBodyBytes` for a caller whose session token is valid (bundle imports are
 * megabytes), and up to `maxAnonymousBodyBytes` for anyone else. The token is checked before a byte of
 * the body is read, so nobody without a session can make the node buffer and parse a large body.
 * The caller is looked up once per request: the GraphQL context reuses it (an invalid token still
 * answers UNAUTHENTICATED there).
 */
function jsonBodyBySession(
  options: Pick<HttpServerOptions, 'maxBodyBytes' | 'maxAnonymousBodyBytes'>,
  callerOf: (req: express.Request) => Promise<Caller | null>,
): RequestHandler {
  const type = ['application/json', 'application/graphql-response+json'];
  const signedIn = express.json({ limit: options.maxBodyBytes, type });
  const anonymous = express.json({ limit: options.maxAnonymousBodyBytes, type });
  return (req, res, next) => {
    if (!req.headers.authorization) return anonymous(req, res, next);
    callerOf(req).then(
      (caller) => (caller ? signedIn : anonymous)(req, res, next),
      () => anonymous(req, res, next),
    );
  };
}

/**
 * The overall budget, spent before a byte of the body is read or any GraphQL work is done: per account
 * for a caller with a valid session (many accounts may share one clinic's address), per client address
 * for everyone else (an invalid token counts as anonymous). A refusal is the whole request: 429 with
 * Retry-After.
 */
function requestBudget(
  limits: RateLimiting,
  clientAddress: (req: express.Request) => string,
  callerOf: (req: express.Request) => Promise<Caller | null>,
): RequestHandler {
  return (req, res, next) => {
    const caller = req.headers.authorization ? callerOf(req).catch(() => null) : Promise.resolve(null);
    caller
      .then((signedIn) =>
        limits.check('request', signedIn ? { account: signedIn.address } : { ip: clientAddress(req) }),
      )
      .then(
        (refusal) => {
          if (!refusal) return next();
          sendRefusal(res, refusal);
        },
        (error: unknown) =>
          sendRefusal(
            res,
            error instanceof OmnichartError
              ? error
              : { code: 'SERVICE_UNAVAILABLE', message: 'the request budget cannot be checked now' },
          ),
      );
  };
}

/** Variables nested beyond any FHIR resource's need are refused before GraphQL walks them. */
function rejectDeepJson(maxJsonDepth: number): RequestHandler {
  // The GraphQL envelope ({variables: {resource: ...}}) adds a few levels on top of the resource.
  const limit = maxJsonDepth + 4;
  return (req, res, next) => {
    if (req.body && jsonDepthExceeds(req.body, limit)) {
      sendRefusal(res, {
        code: 'BAD_USER_INPUT',
        message: `request JSON nests deeper than ${limit} levels`,
        details: { reason: 'TOO_DEEP' },
      });
      return;
    }
    next();
  };
}

/** Body-parser failures answered in GraphQL's error shape, with a stable code and no internals. */
function requestErrorHandler(
  logger: Logger,
  limits: Pick<HttpServerOptions, 'maxBodyBytes' | 'maxAnonymousBodyBytes'>,
): ErrorRequestHandler {
  return (error, _req, res, next) => {
    if (res.headersSent) return next(error);
    const type = (error as { type?: string }).type;
    if (type === 'entity.too.large') {
      const limit = (error as { limit?: number }).limit ?? 0;
      const hint =
        limit === limits.maxAnonymousBodyBytes && limit < limits.maxBodyBytes
          ? ' without a valid session token; signed-in callers may send more'
          : '';
      sendRefusal(res, {
        code: 'PAYLOAD_TOO_LARGE',
        message: `request body is over the ${limit}-byte limit${hint}`,
        details: { limit },
      });
    } else if (type === 'entity.parse.failed') {
      sendRefusal(res, { code: 'BAD_REQUEST', message: 'request body is not valid JSON' });
    } else {
      const status = (error as { status?: number }).status;
      if (!status || status >= 500) {
        logger.error('request failed', { error: (error as Error).stack });
        sendRefusal(res, { code: 'INTERNAL_SERVER_ERROR', message: 'Internal server error' });
      } else {
        sendRefusal(res, { code: 'BAD_REQUEST', message: 'bad request' });
      }
    }
  };
}
