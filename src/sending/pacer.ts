/**
 * The send loop's pacing as a token bucket refilled on the real clock (a rate is about wall time): at most
 * `rate` messages a second, in bursts of at most `burst`. Without a rate it never holds anything back. The
 * rate starts at SEND_RATE and follows the relay's quota as relay-rate.ts learns it.
 */
export interface Pacer {
  /** Messages that may start now. */
  available(): number;
  /** One message started. */
  take(): void;
  /** How long to wait for the next token, or undefined when unpaced. */
  readonly intervalMs: number | undefined;
  /** Paces at `rate` messages a second from now on (undefined: not at all). */
  setRate(rate: number | undefined): void;
}

export function createPacer(initial: number | undefined, burst: number): Pacer {
  let rate = initial;
  let tokens = 1;
  let lastRefill = performance.now();
  const refill = () => {
    const now = performance.now();
    if (rate !== undefined) tokens = Math.min(Math.max(1, Math.min(burst, rate)), tokens + ((now - lastRefill) * rate) / 1000);
    lastRefill = now;
  };
  return {
    available() {
      if (rate === undefined) return Infinity;
      refill();
      return Math.floor(tokens);
    },
    take() {
      if (rate !== undefined) tokens -= 1;
    },
    get intervalMs() {
      return rate === undefined ? undefined : Math.ceil(1000 / rate);
    },
    setRate(next) {
      if (next === rate) return;
      // Tokens earned at the old rate are kept (up to the new burst); an unpaced stretch earns one.
      refill();
      if (rate === undefined) tokens = 1;
      rate = next;
    },
  };
}
