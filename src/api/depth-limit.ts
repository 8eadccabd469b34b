import {
  GraphQLError,
  Kind,
  type FragmentDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';

/**
 * Rejects operations whose selection sets nest deeper than `maxDepth`, counting through fragments.
 * Each fragment's depth is computed once, so fragments spread many times cost nothing extra.
 */
export function depthLimit(maxDepth: number): ValidationRule {
  return (context: ValidationContext) => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const definition of context.getDocument().definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
    }
    const memo = new Map<string, number>();
    const visiting = new Set<string>();

    const fragmentDepth = (name: string): number => {
      const known = memo.get(name);
      if (known !== undefined) return known;
      const fragment = fragments.get(name);
      // Unknown fragments and cycles are reported by graphql's own rules.
      if (!fragment || visiting.has(name)) return 0;
      visiting.add(name);
      const depth = setDepth(fragment.selectionSet);
      visiting.delete(name);
      memo.set(name, depth);
      return depth;
    };

    /** Fields nested in a selection set, 1 for a set of leaves. */
    const setDepth = (set: SelectionSetNode): number => {
      let deepest = 0;
      for (const selection of set.selections) {
        let depth: number;
        if (selection.kind === Kind.FIELD)
          depth = 1 + (selection.selectionSet ? setDepth(selection.selectionSet) : 0);
        else if (selection.kind === Kind.INLINE_FRAGMENT) depth = setDepth(selection.selectionSet);
        else depth = fragmentDepth(selection.name.value);
        deepest = Math.max(deepest, depth);
        if (deepest > maxDepth) break;
      }
      return deepest;
    };

    return {
      OperationDefinition(operation) {
        if (setDepth(operation.selectionSet) > maxDepth) {
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
