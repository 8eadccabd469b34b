import type { OperationScope } from '../operation-scope.js';

/**
 * The sync step of an operation: the first decision that rests on chain state (grants, attestations,
 * break-glass) catches the cache up with the chain, and every later one in the same operation reads
 * what that pass left. A revocation made at any node counts from the next operation on; an operation
 * that asks many times pays one catch-up.
 */
export function catchUpOncePerOperation(
  operations: OperationScope,
  catchUp: () => Promise<void>,
): () => Promise<void> {
  return () => operations.once('chain-catch-up', catchUp);
}
