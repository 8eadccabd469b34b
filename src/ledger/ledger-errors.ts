import { isError } from 'ethers';
import { ServiceUnavailableError } from '../errors.js';
import { omnichartInterface } from './contract-artifact.js';

/** A transaction (or its gas estimate) reverted; `reason` is the contract's custom error name when known. */
export class TransactionRevertedError extends Error {
  constructor(
    readonly reason: string,
    readonly txHash?: string,
  ) {
    super(`Ledger transaction reverted: ${reason}${txHash ? ` (tx ${txHash})` : ''}`);
    this.name = 'TransactionRevertedError';
  }
}

const connectionFailure =
  /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|socket hang up|fetch failed|request timeout|TIMEOUT/i;

/** True when `error` (or any cause inside it) says the RPC endpoint could not be reached. */
export function isConnectionError(error: unknown): boolean {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current && typeof current === 'object' && !seen.has(current)) {
    seen.add(current);
    const e = current as { code?: unknown; message?: unknown; cause?: unknown; error?: unknown };
    if (e.code === 'TIMEOUT') return true;
    if (typeof e.code === 'string' && connectionFailure.test(e.code)) return true;
    if (typeof e.message === 'string' && connectionFailure.test(e.message)) return true;
    current = e.cause ?? e.error;
  }
  return false;
}

/**
 * Maps what ethers throws to what callers can act on: an unreachable RPC becomes SERVICE_UNAVAILABLE,
 * a revert becomes TransactionRevertedError with the decoded custom error; anything else passes through.
 */
export function toLedgerError(error: unknown, action: string): unknown {
  if (error instanceof ServiceUnavailableError || error instanceof TransactionRevertedError) return error;
  if (isConnectionError(error)) {
    return new ServiceUnavailableError(`Ledger unavailable: ${action} could not reach the chain RPC`);
  }
  if (isError(error, 'CALL_EXCEPTION')) {
    return new TransactionRevertedError(revertReason(error.data ?? null, error.reason ?? error.shortMessage));
  }
  return error;
}

/** Names the contract's custom error from revert data, e.g. `NotRelayer`. */
export function revertReason(data: string | null, fallback = 'unknown reason'): string {
  if (data && data !== '0x') {
    const parsed = omnichartInterface.parseError(data);
    if (parsed) return parsed.name;
  }
  return fallback;
}
