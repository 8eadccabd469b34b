import { AsyncLocalStorage } from 'node:async_hooks';
import type { LogLevel } from './config.js';

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** One JSON line per event on stderr, so stdout stays free for CLI output. */
export function createLogger(level: LogLevel, component = 'omnichart'): Logger {
  const write = (at: LogLevel, message: string, fields?: Record<string, unknown>) => {
    if (order[at] < order[level]) return;
    const line = JSON.stringify({ time: new Date().toISOString(), level: at, component, message, ...fields });
    process.stderr.write(line + '\n');
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}

export const silentLogger: Logger = createLogger('silent');

/**
 * Fields that belong to whatever is being served now (a request id, a subscription's ids). Kept in
 * AsyncLocalStorage so services log them without passing them along.
 */
const logScope = new AsyncLocalStorage<Readonly<Record<string, string>>>();

/** Runs `work` with `fields` added to every line a `withLogScope` logger writes meanwhile. */
export function runInLogScope<T>(fields: Record<string, string>, work: () => T): T {
  return logScope.run({ ...logScope.getStore(), ...fields }, work);
}

/**
 * Like runInLogScope for the rest of the current execution: for callbacks that hand control back to
 * code we do not own (graphql-ws), where there is no function to wrap.
 */
export function enterLogScope(fields: Record<string, string>): void {
  logScope.enterWith({ ...logScope.getStore(), ...fields });
}

/** The scope's fields now (empty outside any scope). */
export function currentLogScope(): Readonly<Record<string, string>> {
  return logScope.getStore() ?? {};
}

/** A logger that adds the current scope's fields to each line; the caller's own fields win. */
export function withLogScope(logger: Logger): Logger {
  const at = (write: Logger['info']) => (message: string, fields?: Record<string, unknown>) => {
    const scope = logScope.getStore();
    write(message, scope ? { ...scope, ...fields } : fields);
  };
  return {
    debug: at(logger.debug.bind(logger)),
    info: at(logger.info.bind(logger)),
    warn: at(logger.warn.bind(logger)),
    error: at(logger.error.bind(logger)),
  };
}
