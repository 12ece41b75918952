import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { repeatedTimeNote, resolveZoned } from '../../../src/features/posts/zoned-time.js';
import { buildTestApp, setupOwner, type Agent, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { makeNewsletter, makePost, postRow } from './factories.js';

describe('wall times around daylight-saving changes', () => {
  it('finds no instant inside a gap and names the change', () => {
    assert.deepEqual(resolveZoned('2027-03-28T02:30', 'Europe/Paris'), {
      kind: 'skipped',
      time: '02:30',
      change: { day: '28 March', from: '02:00', to: '03:00' },
    });
    assert.deepEqual(resolveZoned('2027-03-14T02:00', 'America/New_York'), {
      kind: 'skipped',
      time: '02:00',
      change: { day: '14 March', from: '02:00', to: '03:00' },
    });
    // Lord Howe Island moves its clocks by half an hour.
    assert.deepEqual(resolveZoned('2026-10-04T02:15', 'Australia/Lord_Howe'), {
      kind: 'skipped',
      time: '02:15',
      change: { day: '4 October', from: '02:00', to: '02:30' },
    });
  });

  it('finds both instants of a repeated time, earliest first', () => {
    assert.deepEqual(resolveZoned('2027-10-31T02:30', 'Europe/Paris'), {
      kind: 'repeated',
      at: Date.UTC(2027, 9, 31, 0, 30),
      later: Date.UTC(2027, 9, 31, 1, 30),
      time: '02:30',
      change: { day: '31 October', from: '03:00', to: '02:00' },
    });
    assert.match(repeatedTimeNote(Date.UTC(2027, 9, 31, 1, 30), 'Europe/Paris')!, /this is the second, at UTC\+01:00\.$/);
  });

  it('resolves ordinary times to one instant, on either side of a change and in zones without one', () => {
    assert.deepEqual(resolveZoned('2027-03-28T01:59', 'Europe/Paris'), { kind: 'exact', at: Date.UTC(2027, 2, 28, 0, 59) });
    assert.deepEqual(resolveZoned('2027-03-28T03:00', 'Europe/Paris'), { kind: 'exact', at: Date.UTC(2027, 2, 28, 1, 0) });
    assert.deepEqual(resolveZoned('2027-10-31T03:00', 'Europe/Paris'), { kind: 'exact', at: Date.UTC(2027, 9, 31, 2, 0) });
    assert.deepEqual(resolveZoned('2027-10-31T01:59', 'Europe/Paris'), { kind: 'exact', at: Date.UTC(2027, 9, 30, 23, 59) });
    assert.deepEqual(resolveZoned('2027-03-28T02:30', 'UTC'), { kind: 'exact', at: Date.UTC(2027, 2, 28, 2, 30) });
    assert.deepEqual(resolveZoned('2027-03-28T02:30', 'Asia/Kolkata'), { kind: 'exact', at: Date.UTC(2027, 2, 27, 21, 0) });
    assert.equal(repeatedTimeNote(Date.UTC(2027, 9, 31, 2, 0), 'Europe/Paris'), undefined);
    assert.equal(resolveZoned('2027-02-29T10:00', 'Europe/Paris'), undefined);
  });
});

for (const dialect of DIALECTS) {
  describe(`posts: scheduling across daylight-saving changes (${dialect})`, () => {
    let t: TestApp;
    let admin: Agent;
    let newsletterId: number;
    beforeEach(async () => {
      t = await buildTestApp(dialect);
      admin = await setupOwner(t);
      newsletterId = (await makeNewsletter(t, { slug: 'weekly', time_zone: 'Europe/Paris' })).id;
    });
    afterEach(() => t.close());

    it('refuses a time the clocks skip, with the message beside the field, and keeps the post a draft', async () => {
      const id = await makePost(t, newsletterId, { subject: 'Spring issue' });
      const res = await admin.post(`/admin/posts/${id}/schedule`, { scheduled_at: '2027-03-28T02:30' });
      assert.equal(res.statusCode, 422);
      assert.match(
        res.body,
        /id="f-scheduled_at-error">02:30 does not exist on 28 March in Europe\/Paris \(clocks go forward from 02:00 to 03:00\); choose 03:00 or later\./,
      );
      assert.match(res.body, /name="scheduled_at" type="datetime-local" value="2027-03-28T02:30"/, 'the value is kept to correct');
      const row = await postRow(t, id);
      assert.equal(row.status, 'draft');
      assert.equal(row.scheduled_at, null);

      assert.equal((await admin.post(`/admin/posts/${id}/schedule`, { scheduled_at: '2027-03-28T03:00' })).statusCode, 303);
      assert.equal(Number((await postRow(t, id)).scheduled_at), Date.UTC(2027, 2, 28, 1, 0));
    });

    it('takes the first of a repeated time and says so in the confirmation', async () => {
      const id = await makePost(t, newsletterId, { subject: 'Autumn issue' });
      const res = await admin.post(`/admin/posts/${id}/schedule`, { scheduled_at: '2027-10-31T02:30' });
      assert.equal(res.statusCode, 303);
      assert.equal(res.headers.location, `/admin/posts/${id}?scheduled=1`);
      const row = await postRow(t, id);
      assert.equal(row.status, 'scheduled');
      assert.equal(Number(row.scheduled_at), Date.UTC(2027, 9, 31, 0, 30), 'the first 02:30, still summer time');
      const page = await admin.get(res.headers.location as string);
      assert.match(
        page.body,
        /role="status">Scheduled\. 02:30 happens twice on 31 October in Europe\/Paris \(clocks go back from 03:00 to 02:00\): this is the first, at UTC\+02:00\.</,
      );

      // An ordinary time gets the plain confirmation.
      await admin.post(`/admin/posts/${id}/schedule`, { scheduled_at: '2027-10-31T03:30' });
      assert.equal(Number((await postRow(t, id)).scheduled_at), Date.UTC(2027, 9, 31, 2, 30));
      assert.match((await admin.get(`/admin/posts/${id}?scheduled=1`)).body, /role="status">Scheduled\.</);
    });
  });
}
