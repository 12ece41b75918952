import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createAnswerPace } from '../../src/sending/wakeups.js';

test('a group commit waits while answers come faster than one a millisecond, and not for a far relay', () => {
  const pace = createAnswerPace();
  assert.equal(pace.worthWaiting(10), true, 'before any answer, wait (the fast relay is the case to batch for)');

  // Loopback: 20 messages in flight answered in about 3 ms: several answers a millisecond.
  for (let i = 0; i < 50; i++) pace.observe(3);
  assert.equal(pace.worthWaiting(20), true);
  assert.equal(pace.worthWaiting(2), false, 'two in flight over 3 ms: less than one answer a millisecond');

  // The relay moves 40 ms away: the estimate follows within a few dozen answers, and a wait stops paying.
  for (let i = 0; i < 60; i++) pace.observe(42);
  assert.equal(pace.worthWaiting(10), false, '10 in flight over ~42 ms: a quarter of an answer a millisecond');
  assert.equal(pace.worthWaiting(60), true, 'enough in flight, even far away, to bring one within the millisecond');
});

test('one slow answer does not stop the waits on a fast relay', () => {
  const pace = createAnswerPace();
  for (let i = 0; i < 50; i++) pace.observe(2);
  pace.observe(200);
  assert.equal(pace.worthWaiting(20), true, 'one answer in 200 ms moves the smoothed time by a sixteenth of it');
});
