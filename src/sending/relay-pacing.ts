import type { EngineOptions } from './options.js';
import type { Finished } from './outcomes.js';
import { createPacer, type Pacer } from './pacer.js';
import { createRelayRate, type RelayRateState } from './relay-rate.js';

/**
 * The send loop's pacing (pacer.ts) driven by what the relay answers (relay-rate.ts): SEND_RATE, or the
 * relay's quota as learned from its rate answers, whichever is lower. On the real clock, as the pacer is.
 */
export interface RelayPacing {
  /** The pacer of the whole send loop; each message it lets start counts as started for relay-rate.ts. */
  readonly pacer: Pacer;
  /**
   * Tells the controller what the relay answered and paces by what it learned. A rate answer while the
   * relay has accepted nothing for too long becomes relay trouble (`relay`: the post pauses); any other
   * stays a throttled retry, puts its row back in the queue, and calls `requeued`.
   */
  observe(outcomes: Finished[], requeued: () => void): Finished[];
  state(): RelayRateState;
}

export function createRelayPacing(sendRate: number | undefined, concurrency: number, options: EngineOptions): RelayPacing {
  const inner = createPacer(sendRate, concurrency);
  const relayRate = createRelayRate({ ceiling: sendRate, stallMs: options.throttleStallMs, stallAnswers: options.throttleLimit });
  const pacer: Pacer = {
    available: () => inner.available(),
    take() {
      inner.take();
      relayRate.started(performance.now());
    },
    get intervalMs() {
      return inner.intervalMs;
    },
    setRate: (rate) => inner.setRate(rate),
  };
  return {
    pacer,
    observe(outcomes, requeued) {
      const wall = performance.now();
      const judged = outcomes.map((f): Finished => {
        const { outcome } = f;
        if (outcome.kind === 'sent') relayRate.accepted(wall);
        if (outcome.kind !== 'retry' || !outcome.throttled) return f;
        relayRate.throttled(wall, f.startedAt ?? wall);
        if (!relayRate.stalled(wall)) {
          requeued();
          return f;
        }
        relayRate.reset();
        return { ...f, outcome: { kind: 'relay', error: `the relay keeps answering "${outcome.error}"`, ...(outcome.code ? { code: outcome.code } : {}) } };
      });
      inner.setRate(relayRate.rate(wall));
      return judged;
    },
    state: () => relayRate.state(performance.now()),
  };
}
