import type { ApolloServerPlugin } from '@apollo/server';
import { performance } from 'node:perf_hooks';
import type { StageTimer } from '../records/stage-timer.js';

/**
 * Adds the GraphQL stages of a request to the stage timer (only while it is enabled, i.e. under a
 * benchmark): `graphqlParse` and `graphqlValidate`, `graphqlExecute` (execution, resolvers
 * included, so it contains the record stages) and `graphqlRequest` (from Apollo's start of the request
 * to the response being ready to serialize).
 */
export function stageTimingPlugin(timer: StageTimer): ApolloServerPlugin {
  return {
    async requestDidStart() {
      if (!timer.enabled) return;
      const start = performance.now();
      return {
        async didResolveSource() {},
        async parsingDidStart() {
          const parseStart = performance.now();
          return async () => timer.add('graphqlParse', performance.now() - parseStart);
        },
        async validationDidStart() {
          const validateStart = performance.now();
          return async () => timer.add('graphqlValidate', performance.now() - validateStart);
        },
        async executionDidStart() {
          const executeStart = performance.now();
          return {
            async executionDidEnd() {
              timer.add('graphqlExecute', performance.now() - executeStart);
            },
          };
        },
        async willSendResponse() {
          timer.add('graphqlRequest', performance.now() - start);
        },
      };
    },
  };
}
