import type http from 'node:http';
import { randomUUID } from 'node:crypto';
import { GraphQLError, execute, subscribe, type GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { PubSub } from 'type-graphql';
import { WebSocketServer } from 'ws';
import type { Caller } from '../auth/caller.js';
import { endWithSession } from '../auth/session-bound-stream.js';
import { OmnichartError } from '../errors.js';
import { runInLogScope, type Logger } from '../logger.js';
import type { OperationScope } from '../operation-scope.js';
import { RequestContext, type Services } from '../resolvers/context.js';
import { limitedValidator, parseLimited, type DocumentLimits } from './document-limits.js';
import { createErrorFormatter } from './format-error.js';

export interface SubscriptionServerOptions {
  httpServer: http.Server;
  path: string;
  schema: GraphQLSchema;
  services: Services;
  /**
   * Queries and mutations over the socket each run as one operation. Subscriptions do not: every
   * event they deliver is decided afresh (a grant revoked mid-stream ends what it opened).
   */
  operations?: OperationScope;
  logger: Logger;
  /** The same check as the HTTP `Authorization` header, applied to connectionParams.authorization. */
  callerFromHeader: (header: string | undefined, services: Services) => Promise<Caller | null>;
  /** Largest WebSocket message accepted (the same as the HTTP body limit). */
  maxPayload: number;
  documentLimits: DocumentLimits;
  /** Records one operation (a query, or one event of a subscription) may decrypt. */
  maxDecryptionsPerOperation: number;
  /** The client address rate limits count by. */
  clientAddress: (req: http.IncomingMessage) => string;
}

/**
 * type-graphql wants a PubSub whenever the schema has subscriptions, but ours each bring their own
 * `subscribe` (the per-node RecordEvents), so the schema-wide one is never used.
 */
export const unusedPubSub: PubSub = {
  publish() {
    throw new Error('subscriptions use their own event source');
  },
  subscribe() {
    throw new Error('subscriptions use their own event source');
  },
};

/**
 * graphql-ws on the HTTP server's upgrade requests at `path` (the same /graphql as queries).
 * Clients authenticate with `connectionParams: { authorization: 'Bearer <token>' }`.
 */
export function attachSubscriptionServer(options: SubscriptionServerOptions): { close(): Promise<void> } {
  const wsServer = new WebSocketServer({
    server: options.httpServer,
    path: options.path,
    maxPayload: options.maxPayload,
  });
  const formatError = createErrorFormatter(options.logger);
  // Log lines of an operation carry its connection and operation ids (one connection, many operations).
  const connectionIds = new WeakMap<object, string>();
  const scopes = new WeakMap<object, Record<string, string>>();
  const inScope = <T>(contextValue: unknown, work: () => T): T => {
    const fields = scopes.get(contextValue as object);
    return fields ? runInLogScope(fields, work) : work();
  };
  const server = useServer(
    {
      schema: options.schema,
      parse: parseLimited,
      validate: limitedValidator(options.documentLimits),
      execute: (args) =>
        inScope(args.contextValue, () =>
          options.operations ? options.operations.run(() => execute(args)) : execute(args),
        ),
      subscribe: (args) => inScope(args.contextValue, () => subscribe(args)),
      onConnect: (ctx) => {
        connectionIds.set(ctx, randomUUID());
      },
      // Every operation over the socket spends the same overall budget as an HTTP request.
      onSubscribe: async (ctx) => {
        const authorization = ctx.connectionParams?.authorization;
        const caller = await options
          .callerFromHeader(typeof authorization === 'string' ? authorization : undefined, options.services)
          .catch(() => null);
        const refusal = await options.services.limits
          .check(
            'request',
            caller ? { account: caller.address } : { ip: options.clientAddress(ctx.extra.request) },
          )
          .catch((error: OmnichartError) => error);
        if (!refusal) return undefined;
        // Carried as the original error, so the one formatter gives it its code and retryAfter.
        return [new GraphQLError(refusal.message, { originalError: refusal })];
      },
      context: (ctx, id) => {
        const authorization = ctx.connectionParams?.authorization;
        const fields = { connectionId: connectionIds.get(ctx) ?? 'unknown', operationId: id };
        runInLogScope(fields, () => options.logger.debug('graphql-ws operation'));
        const context = new RequestContext(
          options.services,
          () =>
            options.callerFromHeader(
              typeof authorization === 'string' ? authorization : undefined,
              options.services,
            ),
          {
            maxDecryptions: options.maxDecryptionsPerOperation,
            clientIp: options.clientAddress(ctx.extra.request),
          },
        );
        scopes.set(context, fields);
        return context;
      },
      // A stream lives only as long as the session it was opened with: when the session is logged out
      // or expires, the stream ends with an `error` message (UNAUTHENTICATED), which graphql-ws clients
      // hand to the subscription's error sink; the socket stays open for a new token.
      onOperation: async (_ctx, _id, _payload, args, result) => {
        if (!isAsyncIterable(result)) return undefined;
        const caller = await (args.contextValue as RequestContext).optionalCaller().catch(() => null);
        const stream = caller
          ? endWithSession(result[Symbol.asyncIterator](), caller.sessionId, options.services.logins)
          : result[Symbol.asyncIterator]();
        return inScopeEach(stream, (work) => inScope(args.contextValue, work));
      },
      onNext: (_ctx, _id, _payload, args, result) => {
        // The decryption cap and the loaders hold per delivered result: a live subscription is not one read.
        (args.contextValue as RequestContext).nextEvent();
        return result.errors
          ? { ...result, errors: result.errors.map((e) => formatError(e.toJSON(), e)) }
          : undefined;
      },
      onError: (_ctx, _id, _payload, errors) => errors.map((e) => formatError(e.toJSON(), streamError(e))),
    },
    wsServer,
  );
  return {
    async close() {
      await server.dispose();
      await new Promise<void>((resolve) => wsServer.close(() => resolve()));
    },
  };
}

/** Each step of a live stream (the event and its resolvers) runs in the operation's log scope. */
function inScopeEach<T>(
  stream: AsyncIterator<T>,
  inScope: <R>(work: () => R) => R,
): AsyncIterableIterator<T> {
  return {
    next: () => inScope(() => stream.next()),
    return: (value?: unknown) =>
      inScope(() => stream.return?.(value) ?? Promise.resolve({ done: true, value })),
    throw: (error?: unknown) => inScope(() => stream.throw?.(error) ?? Promise.reject(error)),
    [Symbol.asyncIterator]() {
      return this;
    },
  } as AsyncIterableIterator<T>;
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof (value as AsyncIterable<unknown> | null)?.[Symbol.asyncIterator] === 'function';
}

/** graphql-ws wraps an error thrown by a live stream in a GraphQLError with no path: unwrap ours. */
function streamError(error: GraphQLError): unknown {
  return !error.path && error.originalError instanceof OmnichartError ? error.originalError : error;
}
