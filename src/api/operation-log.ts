import type { ApolloServerPlugin } from '@apollo/server';
import type { Logger } from '../logger.js';

/**
 * One debug line per GraphQL operation (type, name, error codes); the request id comes from the
 * log scope, so this line and the service lines of the same request can be joined.
 */
export function operationLogPlugin(logger: Logger): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ operation, operationName, response }) {
          const errors =
            response.body.kind === 'single'
              ? (response.body.singleResult.errors ?? []).map((e) => e.extensions?.code)
              : [];
          logger.debug('graphql operation', {
            operationType: operation?.operation ?? null,
            // Client-chosen text: cut short so a line stays a line.
            operationName: operationName?.slice(0, 100) ?? null,
            errors,
          });
        },
      };
    },
  };
}
