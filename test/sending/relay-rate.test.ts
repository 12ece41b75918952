import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRelayRate, type RelayRate } from '../../src/sending/relay-rate.js';
import { isRateAnswer } from '../../src/sending/transport.js';

/**
 * The relay-rate controller on a clock the test moves: a simulated relay with a quota (a token bucket of
 * a tenth of a second, as bench/lib/sink-server.ts keeps it) answers a simulated sender that paces at the
 * controller's rate and could go far faster. Each answer comes back one round trip after its message left.
 */

interface Simulation {
  /** Messages the relay accepted in each second. */
  perSecond: number[];
  rateAnswers: number;
  stalledAt: number | undefined;
}

function simulate(o: { controller: RelayRate; seconds: number; quota: (t: number) => number; rttMs?: number; maxRate?: number; inFlight?: number }): Simulation {
  const rtt = o.rttMs ?? 10;
  const maxRate = o.maxRate ?? 5000;
  const STEP = 1;
  let bucket = o.quota(0) / 10;
  let tokens = 1;
  const inFlight: Array<{ answerAt: number; startedAt: number; accepted: boolean }> = [];
  const perSecond: number[] = [];
  let rateAnswers = 0;
  let stalledAt: number | undefined;
  for (let t = 0; t < o.seconds * 1000; t += STEP) {
    const q = o.quota(t);
    bucket = Math.min(q / 10, bucket + (q * STEP) / 1000);
    for (let a = inFlight[0]; a && a.answerAt <= t; a = inFlight[0]) {
      inFlight.shift();
      if (a.accepted) {
        o.controller.accepted(t);
        const s = Math.floor(t / 1000);
        while (perSecond.length <= s) perSecond.push(0);
        perSecond[s]! += 1;
      } else {
        rateAnswers += 1;
        o.controller.throttled(t, a.startedAt);
        if (o.controller.stalled(t)) stalledAt ??= t;
      }
    }
    // The sender: paced by the controller (burst of 10, as the send loop's pacer), never above maxRate,
    // never more than `inFlight` messages waiting for their answer (the connections).
    const rate = Math.min(maxRate, o.controller.rate(t) ?? maxRate);
    tokens = Math.min(10, tokens + (rate * STEP) / 1000);
    while (tokens >= 1 && inFlight.length < (o.inFlight ?? 10)) {
      tokens -= 1;
      o.controller.started(t);
      const accepted = bucket >= 1;
      if (accepted) bucket -= 1;
      inFlight.push({ answerAt: t + rtt, startedAt: t, accepted });
    }
  }
  return { perSecond, rateAnswers, stalledAt };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('relay rate controller', () => {
  it('holds nothing back until the relay throttles, and SEND_RATE is its ceiling', () => {
    assert.equal(createRelayRate().rate(0), undefined);
    const capped = createRelayRate({ ceiling: 50 });
    assert.equal(capped.rate(0), 50);
    capped.started(0);
    capped.accepted(10);
    capped.throttled(20, 0);
    assert.ok(capped.rate(20)! <= 50);
    for (let t = 20; t < 120_000; t += 1000) assert.ok(capped.rate(t)! <= 50, `above the ceiling at ${t}`);
  });

  it('converges to ≥ 90% of a 200/s quota within 30 s from an unpaced start, and holds there', () => {
    const controller = createRelayRate();
    const run = simulate({ controller, seconds: 90, quota: () => 200, inFlight: 100 });
    const converged = run.perSecond.slice(30, 89);
    assert.ok(Math.min(...converged) >= 180, `seconds 30–89: ${converged.join(' ')}`);
    assert.ok(mean(run.perSecond.slice(0, 89)) >= 0.9 * 200, `average ${mean(run.perSecond)}`);
    // A sender at 5,000/s against 200/s: the rate answers are the first moments' and a few per cycle.
    assert.ok(run.rateAnswers < 2000, `${run.rateAnswers} rate answers`);
    assert.equal(run.stalledAt, undefined);
    const state = controller.state(90_000);
    assert.ok(state.allowed! > 150 && state.allowed! < 300, `allowed ${state.allowed}`);
  });

  it('with SEND_RATE at the quota it provokes few rate answers and stays near it', () => {
    const controller = createRelayRate({ ceiling: 200 });
    const run = simulate({ controller, seconds: 60, quota: () => 200 });
    assert.ok(mean(run.perSecond.slice(1, 59)) >= 0.95 * 200, `average ${mean(run.perSecond)}`);
    assert.ok(run.rateAnswers < 100, `${run.rateAnswers} rate answers`);
  });

  it('finds a raised quota again and follows a lowered one', () => {
    const controller = createRelayRate();
    const run = simulate({ controller, seconds: 120, quota: (t) => (t < 40_000 ? 200 : t < 80_000 ? 400 : 100), inFlight: 100 });
    assert.ok(mean(run.perSecond.slice(60, 80)) >= 0.85 * 400, `at 400/s: ${run.perSecond.slice(40, 80).join(' ')}`);
    assert.ok(mean(run.perSecond.slice(90, 119)) >= 0.9 * 100, `at 100/s: ${run.perSecond.slice(80).join(' ')}`);
    assert.equal(run.stalledAt, undefined);
  });

  it('decreases once per round: answers to messages sent before the decrease change nothing', () => {
    const c = createRelayRate();
    for (let t = 0; t < 1000; t += 5) {
      c.started(t);
      c.accepted(t + 1);
    }
    c.throttled(1000, 990);
    const after = c.rate(1000)!;
    assert.ok(after > 150 && after < 200, `${after}`);
    // Late answers to messages that left before the decrease.
    for (let t = 1001; t < 1400; t += 10) c.throttled(t, 995);
    assert.ok(c.rate(1400)! >= after, 'no second decrease for the same round');
    // A message sent after it, throttled too: the slower rate is still too fast.
    c.throttled(1500, 1450);
    assert.ok(c.rate(1500)! < after);
  });

  it('calls a relay that accepts nothing for a while stalled, and any acceptance clears that', () => {
    const refusing = simulate({ controller: createRelayRate(), seconds: 5, quota: () => 0 });
    assert.ok(refusing.stalledAt !== undefined && refusing.stalledAt >= 2000 && refusing.stalledAt < 2500, `stalled at ${refusing.stalledAt}`);
    const c = createRelayRate({ stallMs: 1000, stallAnswers: 3 });
    c.started(0);
    c.throttled(10, 0);
    c.throttled(600, 500);
    c.throttled(1200, 1100);
    assert.equal(c.stalled(1200), true);
    c.accepted(1210);
    assert.equal(c.stalled(1300), false);
    c.reset();
    assert.equal(c.rate(1300), undefined, 'a reset forgets the quota');
  });
});

describe('rate answers', () => {
  it('tells the relay throttling from one recipient’s trouble', () => {
    assert.equal(isRateAnswer(421, '421 4.7.0 Try again later, closing connection'), true);
    assert.equal(isRateAnswer(454, '454 Throttling failure: Maximum sending rate exceeded.'), true);
    assert.equal(isRateAnswer(451, '451 4.7.0 rate exceeded'), true);
    assert.equal(isRateAnswer(450, '450 4.7.1 Error: too much mail from 192.0.2.1'), true);
    assert.equal(isRateAnswer(452, '452 4.3.1 Too many messages, slow down'), true);
    assert.equal(isRateAnswer(451, '451 4.7.1 Greylisted, try again later'), false);
    assert.equal(isRateAnswer(452, '452 4.2.2 Mailbox full, quota exceeded'), false);
    assert.equal(isRateAnswer(451, '451 4.3.0 Temporary lookup failure'), false);
    assert.equal(isRateAnswer(550, '550 5.7.1 rate exceeded'), false);
  });
});
