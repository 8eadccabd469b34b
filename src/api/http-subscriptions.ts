import type { RequestHandler } from 'express';
import { Kind, parse } from 'graphql';
import { MAX_DOCUMENT_TOKENS } from './document-limits.js';
import { sendRefusal } from './http-errors.js';

/**
 * Subscriptions are served over WebSocket (graphql-ws) only, so an HTTP document with a subscription
 * operation is refused here, before Apollo validates it: graphql-js's single-root-field rule for
 * subscriptions evaluates `@skip(if: $x)` without the request's variables and throws on a `Boolean!`
 * variable, which Apollo answered with HTTP 500 (found by fuzzing, test/api/fuzz.int.test.ts).
 */
export function refuseSubscriptionsOverHttp(): RequestHandler {
  return (req, res, next) => {
    const query =
      req.method === 'GET' ? req.query?.query : (req.body as { query?: unknown } | undefined)?.query;
    // Only documents that mention the word pay for a second parse.
    if (typeof query !== 'string' || !query.includes('subscription')) return next();
    let hasSubscription = false;
    try {
      hasSubscription = parse(query, { maxTokens: MAX_DOCUMENT_TOKENS }).definitions.some(
        (d) => d.kind === Kind.OPERATION_DEFINITION && d.operation === 'subscription',
      );
    } catch {
      // Apollo reports the syntax error in its own words.
    }
    if (!hasSubscription) return next();
    sendRefusal(res, {
      code: 'BAD_REQUEST',
      message: 'subscriptions are served over WebSocket (graphql-ws) at this path, not over HTTP',
    });
  };
}
