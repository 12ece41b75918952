import type { Clock } from './clock.js';

/**
 * A fixed-window counter per key, kept in memory. It guards one process; with several processes on
 * Postgres each enforces its own share, which still bounds abuse by the process count.
 */
export class RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly clock: Clock,
    readonly limit: number,
    readonly windowMs: number,
    private readonly maxKeys = 100_000,
  ) {}

  /** Milliseconds until `key` may act again, or 0 when it is under the limit. Does not count. */
  retryAfter(key: string): number {
    const w = this.current(key);
    return w && w.count >= this.limit ? w.start + this.windowMs - this.clock.now() : 0;
  }

  /** Counts one event for `key`; returns the wait in ms if this event went over the limit, else 0. */
  hit(key: string): number {
    const now = this.clock.now();
    let w = this.current(key);
    if (!w) {
      if (this.windows.size >= this.maxKeys) this.sweep(now);
      w = { start: now, count: 0 };
      this.windows.set(key, w);
    }
    w.count += 1;
    return w.count > this.limit ? w.start + this.windowMs - now : 0;
  }

  /**
   * Takes one slot for `key` now, before any await, so parallel callers cannot all pass a check made
   * before any of them counted. Returns 0 when a slot was taken, else the wait in ms (nothing counted).
   */
  acquire(key: string): number {
    const wait = this.retryAfter(key);
    if (wait > 0) return wait;
    this.hit(key);
    return 0;
  }

  /** Gives back a slot taken by `acquire` for an event that turned out not to count (a success). */
  release(key: string): void {
    const w = this.current(key);
    if (w && w.count > 0) w.count -= 1;
  }

  reset(key: string): void {
    this.windows.delete(key);
  }

  private current(key: string) {
    const w = this.windows.get(key);
    if (w && this.clock.now() - w.start >= this.windowMs) {
      this.windows.delete(key);
      return undefined;
    }
    return w;
  }

  private sweep(now: number): void {
    for (const [key, w] of this.windows) if (now - w.start >= this.windowMs) this.windows.delete(key);
    // Still full of live windows: drop the oldest rather than grow without bound under a flood.
    if (this.windows.size >= this.maxKeys) {
      const oldest = this.windows.keys().next().value;
      if (oldest !== undefined) this.windows.delete(oldest);
    }
  }
}
