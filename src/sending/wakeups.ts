/**
 * How the send loop waits. Wake-ups are deferred to the check phase: every SMTP answer that arrived
 * in one poll phase is collected first, so one tick (one commit) records them all instead of one
 * commit per answer.
 */
export interface Wakeups {
  /** Something happened (an outcome, a settled render, new work): wakes the loop once per phase. */
  notify(): void;
  /** Waits for the next notify, or `timeoutMs` when given. */
  next(timeoutMs?: number): Promise<void>;
  /** Waits until `ready()` holds at a notify, or a millisecond has passed. */
  gather(): Promise<void>;
}

export function createWakeups(ready: () => boolean): Wakeups {
  let waiters: Array<() => void> = [];
  let scheduled = false;
  let gathering: (() => void) | undefined;
  const notify = () => {
    if (gathering && ready()) gathering();
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      const w = waiters;
      waiters = [];
      for (const f of w) f();
    });
  };
  return {
    notify,
    next: (timeoutMs) =>
      new Promise<void>((resolve) => {
        waiters.push(resolve);
        if (timeoutMs !== undefined) setTimeout(notify, timeoutMs);
      }),
    gather: () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(done, 1);
        function done() {
          clearTimeout(timer);
          gathering = undefined;
          resolve();
        }
        gathering = done;
      }),
  };
}
