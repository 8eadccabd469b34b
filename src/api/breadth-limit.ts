import {
  GraphQLError,
  Kind,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';

/**
 * Caps how many fields one operation selects (fragments counted at each spread) and how many root
 * fields it has, so aliases cannot multiply an expensive field (a chart summary decrypts records)
 * hundreds of times within the token limit.
 */
export function breadthLimit(limits: { maxFields: number; maxRootFields: number }): ValidationRule {
  return (context: ValidationContext) => {
    const fragments = new Map(
      context
        .getDocument()
        .definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION)
        .map((d) => [d.name.value, d.selectionSet]),
    );
    const count = (set: SelectionSetNode, seen: Set<string>, budget: { left: number }): void => {
      for (const selection of set.selections) {
        if (budget.left < 0) return;
        if (selection.kind === Kind.FIELD) {
          budget.left -= 1;
          if (selection.selectionSet) count(selection.selectionSet, seen, budget);
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          count(selection.selectionSet, seen, budget);
        } else {
          const fragment = fragments.get(selection.name.value);
          if (fragment && !seen.has(selection.name.value)) {
            count(fragment, new Set(seen).add(selection.name.value), budget);
          }
        }
      }
    };
    return {
      OperationDefinition(operation) {
        const root = { left: Number.MAX_SAFE_INTEGER };
        for (const selection of operation.selectionSet.selections) {
          if (selection.kind === Kind.FIELD) root.left -= 1;
        }
        const rootFields = Number.MAX_SAFE_INTEGER - root.left;
        const budget = { left: limits.maxFields };
        count(operation.selectionSet, new Set(), budget);
        if (rootFields > limits.maxRootFields || budget.left < 0) {
          context.reportError(
            new GraphQLError(
              `operation selects too many fields (at most ${limits.maxFields} in all, ${limits.maxRootFields} at the root)`,
              { nodes: [operation], extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } },
            ),
          );
        }
      },
    };
  };
}
