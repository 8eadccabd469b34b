/**
 * The sleep of a background loop that new work cuts short: `notify()` ends the current sleep, or,
 * when the loop is busy, makes its next `sleep` return at once, so a wake-up is never lost between
 * a round and the sleep after it.
 */
export class Wakeup {
  private wake?: () => void;
  private woken = false;

  notify(): void {
    this.woken = true;
    this.wake?.();
  }

  sleep(ms: number): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.woken = false;
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }
}
