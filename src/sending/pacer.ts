/**
 * SEND_RATE as a token bucket refilled on the real clock (the rate is about wall time): at most `rate`
 * messages a second, in bursts of at most `burst`. Without a rate it never holds anything back.
 */
export interface Pacer {
  /** Messages that may start now. */
  available(): number;
  /** One message started. */
  take(): void;
  /** How long to wait for the next token, or undefined when unpaced. */
  readonly intervalMs: number | undefined;
}

export function createPacer(rate: number | undefined, burst: number): Pacer {
  if (rate === undefined) return { available: () => Infinity, take: () => undefined, intervalMs: undefined };
  let tokens = 1;
  let lastRefill = performance.now();
  const cap = Math.max(1, Math.min(burst, rate));
  return {
    available() {
      const now = performance.now();
      tokens = Math.min(cap, tokens + ((now - lastRefill) * rate) / 1000);
      lastRefill = now;
      return Math.floor(tokens);
    },
    take() {
      tokens -= 1;
    },
    intervalMs: Math.ceil(1000 / rate),
  };
}
