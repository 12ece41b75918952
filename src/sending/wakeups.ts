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

/**
 * Whether a group commit's wait is worth it: the relay's answer time, smoothed, against the messages in
 * flight. Spread over that time, `inFlight` messages answer about `inFlight / answerMs` times a
 * millisecond; a wait of a millisecond brings another answer only when that is one or more. On loopback
 * (answers in a few milliseconds) the wait saves commits; on a relay 40 ms away it would only add a
 * millisecond to every message's round trip, which is what decides the rate there.
 */
export interface AnswerPace {
  /** A message's time from its send to its answer, in milliseconds. */
  observe(answerMs: number): void;
  /** More answers are expected within the next millisecond. */
  worthWaiting(inFlight: number): boolean;
}

export function createAnswerPace(): AnswerPace {
  let smoothed: number | undefined;
  return {
    observe(answerMs) {
      smoothed = smoothed === undefined ? answerMs : smoothed + (answerMs - smoothed) / 16;
    },
    // Before the first answer nothing is known: wait, as a fast relay is the common case to batch for.
    worthWaiting: (inFlight) => smoothed === undefined || inFlight >= smoothed,
  };
}
