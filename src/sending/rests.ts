/**
 * The engine's background loop rests between passes and, while a send runs, between lease renewals.
 * stop() ends any rest. wake() (new work: a post started or resumed, a snapshot page written) ends only
 * an idle rest, the one between passes, or makes the next one return at once when it came while the loop
 * was busy. A running send takes new rows itself (the pipeline's own wake), so housekeeping keeps its
 * pace: woken by every snapshot page, it ran ~170 times in a 100,000-recipient send on Postgres, and its
 * recovery updates took 7 s of the database's time.
 */
export interface Rests {
  /** A pass of the loop begins: earlier wake-ups are seen by it. */
  passBegins(): void;
  rest(ms: number, kind: 'idle' | 'housekeeping'): Promise<void>;
  wake(): void;
  stop(): void;
}

export function createRests(): Rests {
  let current: { idle: boolean; end(): void } | undefined;
  let woken = false;
  return {
    passBegins() {
      woken = false;
    },
    rest(ms, kind) {
      return new Promise<void>((resolve) => {
        const idle = kind === 'idle';
        // A housekeeping rest that lost its race to the end of a send: its timer goes.
        current?.end();
        if (idle && woken) return resolve();
        const timer = setTimeout(resolve, ms);
        current = {
          idle,
          end() {
            clearTimeout(timer);
            resolve();
          },
        };
      });
    },
    wake() {
      woken = true;
      if (current?.idle) current.end();
    },
    stop() {
      current?.end();
    },
  };
}
