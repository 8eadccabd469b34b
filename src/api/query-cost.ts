import {
  GraphQLError,
  Kind,
  SchemaMetaFieldDef,
  TypeMetaFieldDef,
  TypeNameMetaFieldDef,
  getNamedType,
  getNullableType,
  isCompositeType,
  isInterfaceType,
  isListType,
  isObjectType,
  type FieldNode,
  type GraphQLField,
  type GraphQLNamedType,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
  type ValueNode,
} from 'graphql';

export interface QueryCostOptions {
  /** Largest cost an operation may have. */
  maxCost: number;
  /** What a page costs when neither the document nor the schema says how many items it has. */
  defaultPageSize: number;
  /** What a `first: $variable` without a default costs: the most a client may ask for. */
  maxPageSize: number;
}

/**
 * Refuses operations whose estimated cost is over `maxCost`. Every field costs 1 plus its children;
 * a field with a `first` argument costs `first` (its schema default, else `defaultPageSize`) times its
 * children, and so does a list of objects without one (`history`, the summary lists). Fragments,
 * inline and named, and aliases are counted at every place they are used.
 *
 * Our own rule rather than Armor's cost plugin (which multiplies only by a literal `first`, knows no
 * schema defaults and charges depth exponentially) or graphql-query-complexity (which needs the
 * request's variables, so it can neither run as a plain, cacheable validation rule nor in graphql-ws's
 * `validate`). Without variables, a `first: $n` is charged its declared default or `maxPageSize`,
 * an upper bound whatever the client sends.
 */
export function queryCostRule(options: QueryCostOptions): ValidationRule {
  return (context: ValidationContext) => {
    const schema = context.getSchema();
    return {
      OperationDefinition(operation) {
        const root =
          operation.operation === 'query'
            ? schema.getQueryType()
            : operation.operation === 'mutation'
              ? schema.getMutationType()
              : schema.getSubscriptionType();
        const cost = operationCost(context, operation, root ?? undefined, options);
        if (cost > options.maxCost) {
          context.reportError(
            new GraphQLError(`operation costs ${cost}, over the limit of ${options.maxCost}`, {
              nodes: [operation],
              extensions: {
                code: 'GRAPHQL_VALIDATION_FAILED',
                reason: 'QUERY_TOO_COSTLY',
                cost,
                maxCost: options.maxCost,
              },
            }),
          );
        }
      },
    };
  };
}

function operationCost(
  context: ValidationContext,
  operation: OperationDefinitionNode,
  root: GraphQLNamedType | undefined,
  options: QueryCostOptions,
): number {
  const schema = context.getSchema();
  const variableDefaults = new Map(
    (operation.variableDefinitions ?? []).map((v) => [v.variable.name.value, v.defaultValue]),
  );
  // A named fragment has one type condition, so its cost is the same wherever it is spread.
  const fragmentCosts = new Map<string, number>();
  const visiting = new Set<string>();

  const pageSize = (field: GraphQLField<unknown, unknown>, node: FieldNode): number | undefined => {
    const argument = field.args.find((a) => a.name === 'first');
    if (!argument) return undefined;
    const given = node.arguments?.find((a) => a.name.value === 'first')?.value;
    const literal = (value: ValueNode | undefined): number | undefined =>
      value?.kind === Kind.INT ? Number.parseInt(value.value, 10) : undefined;
    if (given?.kind === Kind.VARIABLE) {
      return literal(variableDefaults.get(given.name.value)) ?? options.maxPageSize;
    }
    if (given) return literal(given) ?? options.maxPageSize;
    return typeof argument.defaultValue === 'number' ? argument.defaultValue : options.defaultPageSize;
  };

  const multiplier = (
    parent: GraphQLNamedType,
    field: GraphQLField<unknown, unknown>,
    node: FieldNode,
  ): number => {
    const page = pageSize(field, node);
    if (page !== undefined) return Math.max(1, page);
    const named = getNamedType(field.type);
    // A connection's edges are the page its field was already charged for; introspection answers
    // from the schema in memory, bounded by its size.
    if (
      !isListType(getNullableType(field.type)) ||
      !isCompositeType(named) ||
      named.name.startsWith('__') ||
      parent.name.endsWith('Connection')
    )
      return 1;
    return options.defaultPageSize;
  };

  const fieldOf = (parent: GraphQLNamedType, name: string): GraphQLField<unknown, unknown> | undefined => {
    if (name === SchemaMetaFieldDef.name && parent === schema.getQueryType()) return SchemaMetaFieldDef;
    if (name === TypeMetaFieldDef.name && parent === schema.getQueryType()) return TypeMetaFieldDef;
    if (name === TypeNameMetaFieldDef.name) return TypeNameMetaFieldDef;
    return isObjectType(parent) || isInterfaceType(parent) ? parent.getFields()[name] : undefined;
  };

  const setCost = (set: SelectionSetNode, parent: GraphQLNamedType | undefined): number => {
    // Unknown types, fields and fragments are graphql's own rules' to report; they cost nothing here.
    if (!parent) return 0;
    let cost = 0;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        const field = fieldOf(parent, selection.name.value);
        if (!field) continue;
        const children = selection.selectionSet
          ? setCost(selection.selectionSet, getNamedType(field.type))
          : 0;
        cost += 1 + multiplier(parent, field, selection) * children;
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
        cost += setCost(selection.selectionSet, type ?? undefined);
      } else {
        const name = selection.name.value;
        let fragmentCost = fragmentCosts.get(name);
        if (fragmentCost === undefined) {
          const fragment = context.getFragment(name);
          // Cycles are refused by graphql's NoFragmentCycles rule.
          if (!fragment || visiting.has(name)) continue;
          visiting.add(name);
          fragmentCost = setCost(
            fragment.selectionSet,
            schema.getType(fragment.typeCondition.name.value) ?? undefined,
          );
          visiting.delete(name);
          fragmentCosts.set(name, fragmentCost);
        }
        cost += fragmentCost;
      }
    }
    return cost;
  };

  return setCost(operation.selectionSet, root);
}
