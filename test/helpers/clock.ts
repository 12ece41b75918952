import type { Clock } from '../../src/lib/clock.js';

/** A clock tests move by hand; it never moves by itself. */
export class FakeClock implements Clock {
  constructor(private current = Date.UTC(2026, 10, 22, 12, 0, 0)) {}
  now(): number {
    return this.current;
  }
  advance(ms: number): void {
    this.current += ms;
  }
  set(ms: number): void {
    this.current = ms;
  }
}
