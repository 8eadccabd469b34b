import { UnauthenticatedError } from '../errors.js';

/** What a live stream needs to know about its caller's session (LoginService provides it). */
export interface SessionChecks {
  /** @throws UnauthenticatedError when the session is unknown, revoked or expired. */
  activeSessionExpiry(sessionId: string): Promise<Date>;
  onSessionEnded(sessionId: string, listener: () => void): () => void;
}

/** setTimeout's longest delay; a later expiry is reached in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Wraps a subscription's stream so it ends with UNAUTHENTICATED when the caller's session does: at once
 * on a logout at this node, at the expiry time by a timer, and otherwise at the next event (each event
 * is delivered only after the session is checked again, which catches logouts on other replicas).
 * Not an async generator function on purpose: `return()` must end the stream even while it waits.
 */
export function endWithSession<T>(
  source: AsyncIterator<T>,
  sessionId: string,
  sessions: SessionChecks,
): AsyncGenerator<T, undefined> {
  let ended: Error | null = null;
  let closed = false;
  let interrupt = () => {};
  let timer: NodeJS.Timeout | undefined;
  const unsubscribe = sessions.onSessionEnded(sessionId, () =>
    end(new UnauthenticatedError('session was logged out: log in again')),
  );

  const close = () => {
    if (closed) return;
    closed = true;
    unsubscribe();
    clearTimeout(timer);
    interrupt();
    // Not awaited: a source's return() may wait for its pending next().
    void source.return?.()?.catch(() => undefined);
  };
  const end = (error: unknown) => {
    if (closed || ended) return;
    ended = error instanceof Error ? error : new UnauthenticatedError('session ended: log in again');
    close();
  };
  const schedule = (expiresAt: Date) => {
    if (closed) return;
    const delay = Math.min(Math.max(expiresAt.getTime() - Date.now(), 0), MAX_TIMER_MS);
    timer = setTimeout(() => sessions.activeSessionExpiry(sessionId).then(schedule, end), delay);
    timer.unref();
  };
  const ready = sessions.activeSessionExpiry(sessionId).then(schedule, end);

  const finished = (): IteratorResult<T, undefined> => {
    if (ended) {
      const error = ended;
      ended = null; // reported once; later calls see a finished stream
      throw error;
    }
    return { done: true, value: undefined };
  };

  const stream: AsyncGenerator<T, undefined> = {
    async next() {
      await ready;
      if (closed) return finished();
      const waiting = new Promise<null>((resolve) => (interrupt = () => resolve(null)));
      const next = await Promise.race([source.next(), waiting]);
      interrupt = () => {};
      if (closed || next === null) return finished();
      if (next.done) {
        close();
        return { done: true, value: undefined };
      }
      try {
        await sessions.activeSessionExpiry(sessionId);
      } catch (error) {
        end(error);
      }
      return closed ? finished() : next;
    },
    async return() {
      ended = null;
      close();
      return { done: true, value: undefined };
    },
    async throw(error: unknown) {
      close();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return stream;
    },
    async [Symbol.asyncDispose]() {
      close();
    },
  };
  return stream;
}
