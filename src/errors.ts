/**
 * Errors a client can act on. Each carries a stable code that becomes `extensions.code` in GraphQL;
 * anything else is reported to clients as INTERNAL_SERVER_ERROR with no details.
 */
export type ErrorCode =
  | 'BAD_USER_INPUT'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'PAYLOAD_TOO_LARGE'
  | 'INTEGRITY_ERROR'
  | 'RATE_LIMITED'
  | 'SERVICE_UNAVAILABLE';

export class OmnichartError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class BadUserInputError extends OmnichartError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('BAD_USER_INPUT', message, details);
  }
}

export class UnauthenticatedError extends OmnichartError {
  constructor(message = 'Authentication required: send Authorization: Bearer <token> from login') {
    super('UNAUTHENTICATED', message);
  }
}

export class ForbiddenError extends OmnichartError {
  constructor(message = 'Not allowed') {
    super('FORBIDDEN', message);
  }
}

export class NotFoundError extends OmnichartError {
  constructor(message: string) {
    super('NOT_FOUND', message);
  }
}

export class ConflictError extends OmnichartError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('CONFLICT', message, details);
  }
}

export class PayloadTooLargeError extends OmnichartError {
  constructor(message: string) {
    super('PAYLOAD_TOO_LARGE', message);
  }
}

/** Stored bytes failed authentication or do not match their content address. */
export class IntegrityError extends OmnichartError {
  constructor(message: string) {
    super('INTEGRITY_ERROR', message);
  }
}

export class ServiceUnavailableError extends OmnichartError {
  constructor(message: string) {
    super('SERVICE_UNAVAILABLE', message);
  }
}

/** Too many attempts; `retryAfter` (seconds) says when the next one can succeed. */
export class RateLimitedError extends OmnichartError {
  constructor(message: string, retryAfter: number) {
    super('RATE_LIMITED', message, { retryAfter });
  }
}
