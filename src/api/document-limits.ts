import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import {
  GraphQLError,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type GraphQLSchema,
  type Source,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import { queryCostRule } from './query-cost.js';

/**
 * Limits on GraphQL documents, the same over HTTP and WebSocket: ample for real clients, cheap to check.
 * Tokens are capped by graphql's own parser option: Armor's max-tokens is a parser for envelop, which
 * Apollo Server cannot take, and counts the same tokens.
 */
export const MAX_DOCUMENT_TOKENS = 5_000;
export const MAX_DEPTH = 15;
/** Aliases in one operation, fragments counted where spread: what keeps one field from being asked 100 times. */
export const MAX_ALIASES = 20;
export const MAX_DIRECTIVES = 50;
/** What `first` may be on any connection (the resolvers refuse more). */
export const MAX_PAGE_SIZE = 500;
/** What the connections without a schema default serve (auditTrail, alerts), and what other lists are charged. */
export const DEFAULT_PAGE_SIZE = 50;

export interface DocumentLimits {
  maxCost: number;
}

type ArmorReject = (context: ValidationContext | null, error: GraphQLError) => void;

/**
 * Armor reports a refusal by throwing an error without a code; instead each refusal is reported to
 * the validation context with our code and a reason, so it answers like every other validation error.
 */
function reportAs(reason: string): { propagateOnRejection: false; onReject: ArmorReject[] } {
  return {
    propagateOnRejection: false,
    onReject: [
      (context, error) =>
        context?.reportError(
          new GraphQLError(error.message.replace(/^Syntax Error: /, ''), {
            extensions: { code: 'GRAPHQL_VALIDATION_FAILED', reason },
          }),
        ),
    ],
  };
}

/** The validation rules that bound a document, on top of graphql's specified rules. */
export function limitRules(limits: DocumentLimits): ValidationRule[] {
  return [
    // Fragments add no level (flattened), and introspection is measured like any other selection.
    maxDepthRule({
      n: MAX_DEPTH,
      flattenFragments: true,
      ignoreIntrospection: false,
      ...reportAs('TOO_DEEP'),
    }),
    maxAliasesRule({ n: MAX_ALIASES, ...reportAs('TOO_MANY_ALIASES') }),
    maxDirectivesRule({ n: MAX_DIRECTIVES, ...reportAs('TOO_MANY_DIRECTIVES') }),
    queryCostRule({
      maxCost: limits.maxCost,
      defaultPageSize: DEFAULT_PAGE_SIZE,
      maxPageSize: MAX_PAGE_SIZE,
    }),
  ] as ValidationRule[];
}

export function parseLimited(source: string | Source): DocumentNode {
  return parse(source, { maxTokens: MAX_DOCUMENT_TOKENS });
}

/** graphql's specified rules plus {@link limitRules}: what graphql-ws validates with. */
export function limitedValidator(limits: DocumentLimits) {
  const rules = [...specifiedRules, ...limitRules(limits)];
  return (schema: GraphQLSchema, document: DocumentNode): readonly GraphQLError[] => {
    try {
      return validate(schema, document, rules);
    } catch (error) {
      // graphql-js's single-root-field rule for subscriptions evaluates `@skip(if: $x)` without
      // variables and throws on a `Boolean!` one; thrown, graphql-ws closed the whole socket with 4500.
      if (error instanceof GraphQLError) return [error];
      throw error;
    }
  };
}
