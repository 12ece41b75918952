import type { Clock } from '../../lib/clock.js';

/** Once triggered, attack mode lasts this long after the last minute over the threshold. */
export const ATTACK_HOLD_MS = 30 * 60_000;

/**
 * Sign-ups per minute in this process. Above the threshold the form asks for the proof-of-work
 * challenge until a quiet half hour has passed. Kept in memory: each process of a Postgres
 * installation watches its own share, which under a flood is over the threshold as well.
 */
export function createAttackMeter(clock: Clock, thresholdPerMinute: number) {
  let windowStart = 0;
  let count = 0;
  let attackUntil = 0;
  return {
    note(): void {
      const now = clock.now();
      if (now - windowStart >= 60_000) {
        windowStart = now;
        count = 0;
      }
      count++;
      if (count > thresholdPerMinute) attackUntil = now + ATTACK_HOLD_MS;
    },
    underAttack: () => clock.now() < attackUntil,
    until: () => (clock.now() < attackUntil ? attackUntil : undefined),
  };
}
