import {
  GraphQLError,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type GraphQLSchema,
  type Source,
} from 'graphql';
import { breadthLimit } from './breadth-limit.js';
import { depthLimit } from './depth-limit.js';

/** Limits on GraphQL documents, the same over HTTP and WebSocket: ample for real clients, cheap to check. */
export const MAX_DOCUMENT_TOKENS = 5_000;
export const limitRules = [depthLimit(15), breadthLimit({ maxFields: 1_000, maxRootFields: 20 })];

export function parseLimited(source: string | Source): DocumentNode {
  return parse(source, { maxTokens: MAX_DOCUMENT_TOKENS });
}

export function validateLimited(schema: GraphQLSchema, document: DocumentNode): readonly GraphQLError[] {
  try {
    return validate(schema, document, [...specifiedRules, ...limitRules]);
  } catch (error) {
    // graphql-js's single-root-field rule for subscriptions evaluates `@skip(if: $x)` without variables
    // and throws on a `Boolean!` one; thrown, graphql-ws closed the whole socket with 4500.
    if (error instanceof GraphQLError) return [error];
    throw error;
  }
}
