/** Tunables of the sending engine. Defaults suit a real relay; tests shorten them. */
export interface EngineOptions {
  /** Rows claimed per batch; default twice the pool size (research/reliability-security.md §4.3). */
  claimSize?: number;
  /** Audience rows inserted per snapshot page. */
  snapshotPageSize: number;
  /** startPost returns after this many pages; a bigger audience is finished in the background. */
  snapshotWaitPages: number;
  /** Attempts (4xx or network errors) before a recipient is given up as failed. */
  maxAttempts: number;
  /** Retry n waits retryBaseMs × 2^(n-1), at most retryMaxMs. */
  retryBaseMs: number;
  retryMaxMs: number;
  /**
   * A relay-level pause probes again after relayBackoffBaseMs × 2^(failures-1), at most relayBackoffMaxMs.
   * Short at first and capped low: most outages are a relay restart, and a send waits for the next probe
   * however soon the relay is back (at 5 s doubling to 60 s, an outage that ends at 60 s is seen at 75 s).
   * A probe is one connection and a QUIT, cheap for the relay even once a minute.
   */
  relayBackoffBaseMs: number;
  relayBackoffMaxMs: number;
  /**
   * Rate answers (421, or a 4xx saying "rate exceeded") only slow the send down (relay-rate.ts), unless
   * the relay accepts nothing for throttleStallMs while giving at least throttleLimit of them: then it is
   * refusing rather than throttling, and the send pauses as relay trouble.
   */
  throttleLimit: number;
  throttleStallMs: number;
  /** How often the background loop looks for due work when nothing woke it. */
  pollIntervalMs: number;
  /** Leases (scheduler leader, live senders) last this long unless renewed. */
  leaseTtlMs: number;
  /** How often the loop renews its sender lease while a long send runs (the chores run from a job). */
  housekeepingIntervalMs: number;
}

export const DEFAULT_ENGINE_OPTIONS: EngineOptions = {
  snapshotPageSize: 500,
  snapshotWaitPages: 40,
  maxAttempts: 8,
  retryBaseMs: 60_000,
  retryMaxMs: 60 * 60_000,
  relayBackoffBaseMs: 5_000,
  relayBackoffMaxMs: 60_000,
  throttleLimit: 20,
  throttleStallMs: 2000,
  pollIntervalMs: 1000,
  leaseTtlMs: 30_000,
  housekeepingIntervalMs: 5000,
};

export function backoff(n: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, n - 1));
}

/** The slice of a pino logger the engine uses. */
export interface EngineLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLog: EngineLog = { info() {}, warn() {}, error() {} };
