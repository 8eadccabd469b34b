import type { ApolloServerPlugin } from '@apollo/server';

const REQUEST_ERRORS = new Set(['GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'BAD_USER_INPUT']);

/**
 * GraphQL over HTTP: a client that only accepts `application/json` (the legacy media type) SHOULD get
 * 200 for request errors, which it reads from the body; `application/graphql-response+json` clients
 * keep the 4xx. Apollo answers 400 to both, so legacy clients get their 200 here.
 */
export const legacyJsonStatusCodes: ApolloServerPlugin = {
  async requestDidStart() {
    return {
      async willSendResponse({ request, response, errors }) {
        const accept = request.http?.headers.get('accept') ?? '';
        if (accept.includes('application/graphql-response+json')) return;
        if (response.http.status !== 400 || !errors?.length) return;
        if (errors.every((error) => REQUEST_ERRORS.has(String(error.extensions?.code))))
          response.http.status = 200;
      },
    };
  },
};
