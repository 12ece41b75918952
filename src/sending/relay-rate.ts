/**
 * How fast the relay lets this sender go, learned from its rate answers (421, or 451/454 saying "rate",
 * "throttl…", "too many", …: see isRateAnswer in transport.ts). One controller paces the whole send loop,
 * every connection and every post together, because a relay's quota is per account, not per connection.
 *
 *   - Until the relay first throttles, nothing holds the send back but SEND_RATE (the `ceiling`).
 *   - On the first rate answer the rate drops to `backoff` × what the relay actually accepted over the last
 *     second (its quota, measured, rather than a guess from our own rate); on later ones by `backoff` to
 *     `backoff`² of the current rate. The answer's message goes back to the queue without counting
 *     against its recipient.
 *   - Then it probes upward again along a cubic curve (as TCP CUBIC does): quickly back towards the rate
 *     that was throttled, flat around it, then faster and faster beyond it, so a quota that was raised,
 *     or one that was never the limit, is found again within seconds.
 *   - At most one decrease per round: rate answers to messages that started before the last decrease say
 *     nothing new about the slower rate.
 * A relay that accepts nothing at all for `stallMs` while answering with rate answers is not throttling
 * any more but refusing (a daily quota used up, an account suspended): `stalled` says so, and the send
 * loop pauses the post as relay trouble with its own backoff and probe.
 *
 * Time is the caller's (`now` in milliseconds on a monotonic clock), so the controller is plain data that
 * tests drive by hand.
 */

export interface RelayRateOptions {
  /** SEND_RATE: never faster than this (undefined: no ceiling). */
  ceiling?: number | undefined;
  /** The share of the accepted rate kept after a rate answer. */
  backoff: number;
  /** Seconds the cubic takes to climb back to the rate that was throttled. */
  recoverSeconds: number;
  /** Never slower than this, in messages a second. */
  floor: number;
  /** At least this long between two decreases. */
  holdMs: number;
  /** Rate answers with nothing accepted for this long mean the relay is refusing, not throttling. */
  stallMs: number;
  /** …and at least this many of them. */
  stallAnswers: number;
}

export const DEFAULT_RELAY_RATE: RelayRateOptions = {
  backoff: 0.9,
  recoverSeconds: 2,
  floor: 0.5,
  holdMs: 200,
  stallMs: 2000,
  stallAnswers: 20,
};

/** Where the relay's quota stands, for the post page. */
export interface RelayRateState {
  /** Messages a second the relay allows now, as far as is known; undefined while it has not throttled. */
  allowed: number | undefined;
  /** When the last rate answer came (the caller's clock), or undefined. */
  throttledAt: number | undefined;
  /** Rate answers so far. */
  rateAnswers: number;
}

export interface RelayRate {
  /** The rate to pace at now (messages a second), or undefined for as fast as the relay takes them. */
  rate(now: number): number | undefined;
  /** A message was handed to the relay. */
  started(now: number): void;
  /** The relay accepted a message. */
  accepted(now: number): void;
  /** The relay answered a message that started at `startedAt` with a rate answer. */
  throttled(now: number, startedAt: number): void;
  /** Whether the relay has been refusing everything with rate answers for too long (see above). */
  stalled(now: number): boolean;
  /** Forgets the quota learned (the send pauses; after it the relay may be a different one). */
  reset(): void;
  state(now: number): RelayRateState;
}

/** Counts of events over the last second, in 20 slots of 50 ms. */
function lastSecond() {
  const SLOT = 50;
  const slots = new Array<number>(20).fill(0);
  let at = 0; // the slot index (now / SLOT) the newest count belongs to
  const advance = (now: number) => {
    const slot = Math.floor(now / SLOT);
    if (slot - at >= slots.length) slots.fill(0);
    else for (let s = at + 1; s <= slot; s++) slots[s % slots.length] = 0;
    if (slot > at) at = slot;
  };
  return {
    add(now: number) {
      advance(now);
      slots[Math.floor(now / SLOT) % slots.length]! += 1;
    },
    count(now: number): number {
      advance(now);
      return slots.reduce((a, b) => a + b, 0);
    },
  };
}

export function createRelayRate(options: Partial<RelayRateOptions> = {}): RelayRate {
  const o: RelayRateOptions = { ...DEFAULT_RELAY_RATE, ...options };
  const accepted = lastSecond();
  const started = lastSecond();
  /** When the first message started (the window for the rates is shorter before a second has passed). */
  let firstStart: number | undefined;
  /** The cubic's epoch: the rate that was throttled, and when. Undefined until the first rate answer. */
  let epoch: { max: number; at: number } | undefined;
  let throttledAt: number | undefined;
  let rateAnswers = 0;
  /** Rate answers since the relay last accepted a message, and when the first of them came. */
  let refusals = { count: 0, since: 0 };
  /** (1 − backoff) ÷ recoverSeconds³: the cubic reaches `max` again after recoverSeconds. */
  const c = (1 - o.backoff) / o.recoverSeconds ** 3;

  const cap = (r: number) => Math.max(o.floor, o.ceiling === undefined ? r : Math.min(o.ceiling, r));
  const cubic = (now: number): number | undefined => {
    if (!epoch) return undefined;
    const t = (now - epoch.at) / 1000 - o.recoverSeconds;
    // Capped far above any relay's quota: after minutes without a rate answer the pacing is moot.
    return Math.min(1e6, epoch.max * (1 + c * t * t * t));
  };
  const rate = (now: number): number | undefined => {
    const r = cubic(now);
    if (r === undefined) return o.ceiling;
    return cap(r);
  };
  /** Events a second over the last second (or since the first message, when that is shorter). */
  const perSecond = (count: number, now: number) => {
    const windowMs = Math.min(1000, Math.max(100, now - (firstStart ?? now)));
    return (count * 1000) / windowMs;
  };

  return {
    rate,
    started(now) {
      firstStart ??= now;
      started.add(now);
    },
    accepted(now) {
      accepted.add(now);
      refusals = { count: 0, since: 0 };
    },
    throttled(now, startedAt) {
      rateAnswers += 1;
      throttledAt = now;
      if (refusals.count++ === 0) refusals.since = now;
      // One decrease per round, and not more often than holdMs.
      if (epoch && (startedAt <= epoch.at || now - epoch.at < o.holdMs)) return;
      const took = perSecond(accepted.count(now), now);
      // Nothing taken for a second after a decrease: the relay is refusing rather than pacing us, and
      // slowing down further would only delay finding that out (see `stalled`).
      if (epoch && took === 0) return;
      const current = rate(now);
      // The first rate answer: what the relay took is its quota (the send was not paced, so it offered
      // more). Later ones: back off from the current rate, at most to `backoff` of it per round, since a
      // low count of messages taken may be this process's own slowness rather than the quota.
      const max = current === undefined ? (took > 0 ? took : perSecond(started.count(now), now)) : Math.min(current, Math.max(took, o.backoff * current));
      epoch = { max: Math.max(o.floor, max), at: now };
    },
    stalled(now) {
      return refusals.count >= o.stallAnswers && now - refusals.since >= o.stallMs;
    },
    reset() {
      epoch = undefined;
      refusals = { count: 0, since: 0 };
    },
    state(now) {
      return { allowed: epoch ? rate(now) : undefined, throttledAt, rateAnswers };
    },
  };
}
