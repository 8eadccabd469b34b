import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { OmnichartError } from '../errors.js';
import type { Logger } from '../logger.js';

/** GraphQL's own codes (parse, validation, coercion) that are safe to pass through as they are. */
const GRAPHQL_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
]);

/**
 * The single mapping from errors to what clients see: our errors keep their code and message, GraphQL's
 * own request errors pass through, anything else is logged here and reported without internals.
 */
export function createErrorFormatter(logger: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    if (original instanceof OmnichartError) {
      return {
        message: original.message,
        locations: formatted.locations,
        path: formatted.path,
        extensions: { code: original.code, ...original.details },
      };
    }
    const code = formatted.extensions?.code;
    if (typeof code === 'string' && GRAPHQL_CODES.has(code)) {
      // Our document limits say which one refused (`reason`) and by how much; nothing else passes.
      const { reason, cost, maxCost } = formatted.extensions ?? {};
      return {
        message: formatted.message,
        locations: formatted.locations,
        path: formatted.path,
        extensions: {
          code,
          ...(typeof reason === 'string' && { reason }),
          ...(typeof cost === 'number' && { cost }),
          ...(typeof maxCost === 'number' && { maxCost }),
        },
      };
    }
    // Apollo refuses some requests before execution with a GraphQLError and no code (a persisted-query
    // hash that does not match, an unknown persisted-query version): the client's mistake, not ours.
    if (
      error instanceof GraphQLError &&
      error.originalError === undefined &&
      error.path === undefined &&
      error.extensions.code === undefined // Apollo fills in INTERNAL_SERVER_ERROR in `formatted`
    ) {
      return {
        message: formatted.message,
        locations: formatted.locations,
        extensions: { code: 'BAD_REQUEST' },
      };
    }
    logger.error('unexpected error while serving a request', {
      error: original instanceof Error ? original.stack : String(original),
      path: formatted.path,
    });
    return {
      message: 'Internal server error',
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    };
  };
}
