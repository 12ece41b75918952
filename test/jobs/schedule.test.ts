import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTick, nextRunAfter, parseSchedule } from '../../src/jobs/schedule.js';

const at = (iso: string) => Date.parse(iso);

describe('job schedules', () => {
  it('puts common schedules in words', () => {
    const words = (e: string) => parseSchedule(e).words;
    assert.equal(words('* * * * *'), 'every minute');
    assert.equal(words('0 * * * * *'), 'every minute');
    assert.equal(words('*/5 * * * * *'), 'every 5 seconds');
    assert.equal(words('*/15 * * * * *'), 'every 15 seconds');
    assert.equal(words('* * * * * *'), 'every second');
    assert.equal(words('*/10 * * * *'), 'every 10 minutes');
    assert.equal(words('7 * * * *'), 'every hour at :07');
    assert.equal(words('0 */6 * * *'), 'every 6 hours at :00');
    assert.equal(words('30 3 * * *'), 'every day at 03:30 UTC');
    assert.equal(words('@daily'), 'every day at 00:00 UTC');
    assert.equal(words('0 9 * * mon-fri'), '0 9 * * mon-fri (cron, UTC)');
    assert.equal(words('5,20 * * * *'), '5,20 * * * * (cron, UTC)');
  });

  it('knows its ticks and finds the next one, in UTC', () => {
    const minute = parseSchedule('* * * * *');
    assert.equal(isTick(minute, at('2026-11-22T12:01:00.400Z')), true);
    assert.equal(isTick(minute, at('2026-11-22T12:01:30Z')), false);
    assert.equal(nextRunAfter(minute, at('2026-11-22T12:01:00Z')), at('2026-11-22T12:02:00Z'), 'strictly after');
    assert.equal(nextRunAfter(minute, at('2026-11-22T23:59:59.999Z')), at('2026-11-23T00:00:00Z'));

    const fives = parseSchedule('*/5 * * * * *');
    assert.equal(nextRunAfter(fives, at('2026-11-22T12:00:03Z')), at('2026-11-22T12:00:05Z'));
    assert.equal(nextRunAfter(fives, at('2026-11-22T12:59:57Z')), at('2026-11-22T13:00:00Z'));

    const nightly = parseSchedule('30 3 * * *');
    assert.equal(nextRunAfter(nightly, at('2026-11-22T03:30:00Z')), at('2026-11-23T03:30:00Z'));
    assert.equal(nextRunAfter(nightly, at('2026-12-31T12:00:00Z')), at('2027-01-01T03:30:00Z'));

    const weekdays = parseSchedule('0 9 * * 1-5');
    // 2026-11-21 is a Saturday.
    assert.equal(nextRunAfter(weekdays, at('2026-11-21T10:00:00Z')), at('2026-11-23T09:00:00Z'));
    assert.equal(isTick(weekdays, at('2026-11-22T09:00:00Z')), false, 'Sunday');

    const leapDay = parseSchedule('0 0 29 2 *');
    assert.equal(nextRunAfter(leapDay, at('2026-03-01T00:00:00Z')), at('2028-02-29T00:00:00Z'));
    assert.equal(isTick(parseSchedule('0 0 * * 7'), at('2026-11-22T00:00:00Z')), true, '7 is Sunday too');
  });
});
