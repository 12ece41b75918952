import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRests } from '../../src/sending/rests.js';

/** Whether `p` has settled once everything already queued has run (no timer is waited for). */
async function settled(p: Promise<void>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  return done;
}

// Every rest here is an hour long: a rest that ends did so because of wake() or stop(), not its timer.
const HOUR = 3_600_000;

describe('the engine loop’s rests', () => {
  it('a wake-up during a send does not cut the housekeeping rest short; stop does', async () => {
    const rests = createRests();
    const rest = rests.rest(HOUR, 'housekeeping');
    rests.wake();
    rests.wake();
    assert.equal(await settled(rest), false);
    rests.stop();
    assert.equal(await settled(rest), true);
  });

  it('a wake-up ends the idle rest between passes', async () => {
    const rests = createRests();
    rests.passBegins();
    const rest = rests.rest(HOUR, 'idle');
    assert.equal(await settled(rest), false);
    rests.wake();
    assert.equal(await settled(rest), true);
  });

  it('a wake-up that came while the loop was busy makes the next idle rest return at once, once', async () => {
    const rests = createRests();
    rests.passBegins();
    rests.wake();
    assert.equal(await settled(rests.rest(HOUR, 'idle')), true);
    rests.passBegins();
    const next = rests.rest(HOUR, 'idle');
    assert.equal(await settled(next), false, 'the next pass saw the wake-up: the rest after it is a full one');
    rests.stop();
    assert.equal(await settled(next), true);
  });

  it('a new rest ends the one that lost its race, so no timer outlives the loop', async () => {
    const rests = createRests();
    const abandoned = rests.rest(HOUR, 'housekeeping');
    const idle = rests.rest(HOUR, 'idle');
    assert.equal(await settled(abandoned), true);
    rests.stop();
    assert.equal(await settled(idle), true);
  });
});
