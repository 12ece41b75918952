import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { enqueueMail } from '../../src/sending/mail-outbox.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/db.js';
import { addReaders, makeNewsletter, makePost, postStatus, testRenderer } from '../sending/fixtures.js';

/**
 * The sending engine's chores and the mail outbox's retries run from the job registry: time passing is
 * what starts a scheduled post or a due retry, so the tests move the clock and call `runDue` as a cron
 * tick would.
 */

const SECOND = 1000;
const NOON = Date.UTC(2026, 10, 22, 12, 0, 0);

async function devOutboxCount(t: TestApp): Promise<number> {
  const row = await t.db.db.selectFrom('dev_outbox').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

for (const dialect of DIALECTS) {
  describe(`sending jobs (${dialect})`, () => {
    let t: TestApp;
    afterEach(() => t.close());

    it('the housekeeping job starts a scheduled post at the first tick after its time', async () => {
      t = await buildTestApp(dialect, { renderer: testRenderer });
      assert.equal(t.clock.now(), NOON);
      const nl = await makeNewsletter(t.db.db, NOON);
      await addReaders(t.db.db, nl.id, NOON, 3);
      const postId = await makePost(t.db.db, nl.id, NOON, { status: 'scheduled', scheduled_at: NOON + 12 * SECOND });

      assert.equal((await t.jobs.runDue(NOON + 10 * SECOND)).get('sending-housekeeping')?.outcome, 'ok');
      assert.equal((await postStatus(t.db.db, postId)).status, 'scheduled', 'not due yet');

      t.clock.set(NOON + 15 * SECOND);
      const results = await t.jobs.runDue(t.clock.now());
      assert.equal(results.get('sending-housekeeping')?.outcome, 'ok');
      assert.equal(results.get('mail-outbox')?.outcome, 'ok', 'a quarter minute is a tick of both');
      assert.equal((await postStatus(t.db.db, postId)).status, 'sending', 'started by the job');

      // The send loop itself takes it from there.
      await t.sending.runOnce();
      assert.equal((await postStatus(t.db.db, postId)).status, 'sent');
      assert.equal(await devOutboxCount(t), 3);
      const runs = await t.db.db.selectFrom('job_runs').select(['job', 'status']).where('job', '=', 'sending-housekeeping').execute();
      assert.deepEqual(
        runs.map((r) => r.status),
        ['idle', 'ok'],
        'the first tick found nothing to do; the second started the post',
      );
    });

    it('the engine runs its chores once at start, before any tick: a post that fell due while it was down starts', async () => {
      t = await buildTestApp(dialect, { renderer: testRenderer });
      const nl = await makeNewsletter(t.db.db, NOON);
      await addReaders(t.db.db, nl.id, NOON, 2);
      const postId = await makePost(t.db.db, nl.id, NOON, { status: 'scheduled', scheduled_at: NOON - 30 * SECOND });
      t.sending.start();
      // stop() waits for the start-up pass (recovery, then the chores) before it returns.
      await t.sending.stop();
      assert.equal((await postStatus(t.db.db, postId)).status, 'sending');
      assert.equal(await t.db.db.selectFrom('job_runs').select('id').executeTakeFirst(), undefined, 'no job ran');
    });

    it('the mail-outbox job sends a message whose retry has fallen due', async () => {
      t = await buildTestApp(dialect);
      await enqueueMail(t.db.db, {
        kind: 'confirmation',
        mail: { from: 'news@gazette.test', to: 'reader@example.com', subject: 'Please confirm', text: 'Confirm' },
        now: NOON + 40 * SECOND,
      });
      await t.jobs.runDue(NOON + 30 * SECOND);
      assert.equal(t.mailer.sent.length, 0, 'not due yet');
      t.clock.set(NOON + 45 * SECOND);
      assert.equal((await t.jobs.runDue(t.clock.now())).get('mail-outbox')?.outcome, 'ok');
      assert.deepEqual(
        t.mailer.sent.map((m) => m.to),
        ['reader@example.com'],
      );
      const row = await t.db.db.selectFrom('mail_outbox').select('status').executeTakeFirstOrThrow();
      assert.equal(row.status, 'sent');
    });
  });
}
