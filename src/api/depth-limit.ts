import { GraphQLError, Kind, type ASTNode, type ValidationContext, type ValidationRule } from 'graphql';

/**
 * Rejects operations whose selection sets nest deeper than `maxDepth`, counting through fragments,
 * so an abusive document cannot make the server walk an unbounded tree.
 */
export function depthLimit(maxDepth: number): ValidationRule {
  return (context: ValidationContext) => {
    const fragments = new Map(
      context
        .getDocument()
        .definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION)
        .map((d) => [d.name.value, d]),
    );
    const depthOf = (node: ASTNode, depth: number, seen: Set<string>): number => {
      if (depth > maxDepth) return depth;
      if (node.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragments.get(node.name.value);
        if (!fragment || seen.has(node.name.value)) return depth;
        return depthOf(fragment.selectionSet, depth, new Set(seen).add(node.name.value));
      }
      if (!('selectionSet' in node) || !node.selectionSet) return depth;
      const next = node.kind === Kind.FIELD ? depth + 1 : depth;
      let deepest = next;
      for (const selection of node.selectionSet.selections) {
        deepest = Math.max(deepest, depthOf(selection, next, seen));
        if (deepest > maxDepth) break;
      }
      return deepest;
    };
    return {
      OperationDefinition(operation) {
        if (depthOf(operation, 0, new Set()) > maxDepth) {
          context.reportError(
            new GraphQLError(`operation nests deeper than ${maxDepth} levels`, {
              nodes: [operation],
              extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
            }),
          );
        }
      },
    };
  };
}
