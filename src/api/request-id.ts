import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import { runInLogScope, type Logger } from '../logger.js';

export const REQUEST_ID_HEADER = 'X-Request-Id';

/**
 * A caller's id is kept only when it is a short token of safe characters: it goes into log lines
 * and a response header, so anything that could forge a log field or split a header is replaced.
 */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

export function acceptableRequestId(value: unknown): value is string {
  return typeof value === 'string' && SAFE_REQUEST_ID.test(value);
}

/**
 * Gives each HTTP request an id (the caller's `X-Request-Id` when acceptable, else a new UUID),
 * returns it as a response header, and runs the rest of the request in a log scope carrying it
 * (the scope survives body parsing: the operation's log line in the tests shows it).
 * One debug line per request records method, path, status and duration.
 */
export function requestIdMiddleware(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const incoming = req.headers['x-request-id'];
    const requestId = acceptableRequestId(incoming) ? incoming : randomUUID();
    res.setHeader(REQUEST_ID_HEADER, requestId);
    const started = process.hrtime.bigint();
    res.once('finish', () =>
      runInLogScope({ requestId }, () =>
        logger.debug('http request', {
          method: req.method,
          path: req.path,
          status: res.statusCode,
          ms: Number(process.hrtime.bigint() - started) / 1e6,
        }),
      ),
    );
    runInLogScope({ requestId }, next);
  };
}
