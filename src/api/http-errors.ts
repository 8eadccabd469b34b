import type { Response } from 'express';
import { OmnichartError, type ErrorCode } from '../errors.js';

/** Codes answered outside GraphQL execution: our domain codes plus the two a transport may need. */
export type HttpErrorCode = ErrorCode | 'BAD_REQUEST' | 'INTERNAL_SERVER_ERROR';

/** The one table from a stable code to the HTTP status of a request refused as a whole. */
export const HTTP_STATUS: Record<HttpErrorCode, number> = {
  BAD_REQUEST: 400,
  BAD_USER_INPUT: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  INTERNAL_SERVER_ERROR: 500,
  INTEGRITY_ERROR: 502,
  SERVICE_UNAVAILABLE: 503,
};

/** A refusal in GraphQL's error shape (`{ errors: [{ message, extensions: { code, ... } }] }`). */
export interface HttpRefusal {
  code: HttpErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

export function refusalOf(error: OmnichartError): HttpRefusal {
  return { code: error.code, message: error.message, details: error.details };
}

/**
 * Answers a whole request with one error: the status from HTTP_STATUS, `Retry-After` for RATE_LIMITED,
 * and the body every route of the node uses (GraphQL, subscriptions over HTTP, peer routes, metrics).
 */
export function sendRefusal(res: Response, refusal: HttpRefusal | OmnichartError): void {
  const { code, message, details } = refusal instanceof OmnichartError ? refusalOf(refusal) : refusal;
  res.status(HTTP_STATUS[code]);
  if (code === 'RATE_LIMITED') res.set('Retry-After', String(Number(details?.retryAfter ?? 1)));
  res.json({ errors: [{ message, extensions: { code, ...details } }] });
}
