import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { emailHash } from '../../../src/domain/suppressions.js';
import type { FeedbackService } from '../../../src/features/feedback/service.js';
import { verpToken } from '../../../src/lib/verp.js';
import { buildTestApp, TEST_SECRET, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { reply, startSmtpServer, type TestSmtpServer } from '../../helpers/smtp-server.js';
import { addReaders, makeNewsletter, testRenderer, type Reader } from '../../sending/fixtures.js';
import { feedbackOf, report, sendPost, suppressionOf } from './helpers.js';

const DAY = 86_400_000;

for (const dialect of DIALECTS) {
  describe(`feedback pipeline (${dialect})`, () => {
    let t: TestApp;
    let smtp: TestSmtpServer;
    let feedback: FeedbackService;
    let newsletterId: number;
    let readers: Reader[];
    let relaySeq = 0;

    beforeEach(async () => {
      smtp = await startSmtpServer();
      // Answers like SES: the relay's own id for the message follows "Ok".
      smtp.respond.onData = () => reply(250, `Ok 0100018f${String(++relaySeq).padStart(8, '0')}-relay-000000`);
      t = await buildTestApp(dialect, { env: { SMTP_URL: smtp.url, SMTP_POOL_SIZE: '2' }, renderer: testRenderer });
      feedback = feedbackOf(t);
      newsletterId = (await makeNewsletter(t.db.db, t.clock.now())).id;
      readers = await addReaders(t.db.db, newsletterId, t.clock.now(), 4);
    });
    afterEach(async () => {
      await t.close();
      await smtp.close();
    });

    const eventsOf = (type: string) => t.db.db.selectFrom('events').selectAll().where('type', '=', type).execute();

    it('suppresses on a hard bounce matched by Message-ID, and a replayed report counts once', async () => {
      const { postId, byEmail } = await sendPost(t, newsletterId);
      const gone = readers[0]!.email;
      const messageId = byEmail.get(gone)!.message_id;
      const r = report({ kind: 'hard_bounce', source: 'ses', reportId: 'sns-1', messageRef: { messageId: messageId.slice(1, -1) }, address: gone, diagnosticCode: '5.1.1', diagnosticText: 'user unknown' });
      assert.deepEqual(await feedback.record([r]), { stored: 1, duplicates: 0 });
      assert.deepEqual(await feedback.record([r, { ...r }]), { stored: 0, duplicates: 2 });

      const rows = await t.db.db.selectFrom('feedback_reports').selectAll().execute();
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.delivery_id, byEmail.get(gone)!.id);
      assert.equal(rows[0]!.post_id, postId);
      assert.equal(rows[0]!.outcome, 'suppressed');
      const s = await suppressionOf(t, emailHash(gone));
      assert.equal(s?.reason, 'bounced');
      assert.equal(s?.source, 'ses');
      assert.match(s!.detail, /5\.1\.1 user unknown/);
      assert.equal((await eventsOf('bounced')).length, 1, 'one event for one report');
      assert.equal(await suppressionOf(t, emailHash(readers[1]!.email)), undefined);
    });

    it('matches by the relay id from the SMTP answer and by a VERP token; unmatched reports are kept', async () => {
      const { byEmail } = await sendPost(t, newsletterId);
      const a = byEmail.get(readers[0]!.email)!;
      assert.match(a.relay_id ?? '', /^0100018f\d{8}-relay-000000$/, 'the relay id is read from "250 Ok <id>"');
      const b = byEmail.get(readers[1]!.email)!;
      await feedback.record([
        report({ kind: 'hard_bounce', source: 'ses', messageRef: { relayId: a.relay_id! }, address: '' }),
        report({ kind: 'hard_bounce', messageRef: { verpToken: verpToken(b.id, TEST_SECRET) }, address: readers[1]!.email }),
        report({ kind: 'hard_bounce', messageRef: { verpToken: verpToken(b.id + 1000, 'another secret') }, address: 'stranger@example.net' }),
        report({ kind: 'soft_bounce', messageRef: { messageId: 'not-ours@elsewhere.example' }, address: 'someone@example.org' }),
      ]);
      const rows = await t.db.db.selectFrom('feedback_reports').selectAll().orderBy('id').execute();
      assert.deepEqual(rows.map((r) => r.delivery_id), [a.id, b.id, null, null]);
      assert.equal(rows[0]!.address, readers[0]!.email, 'the address comes from the delivery when the report has none');
      assert.ok(await suppressionOf(t, emailHash(readers[0]!.email)));
      assert.ok(await suppressionOf(t, emailHash(readers[1]!.email)));

      const unmatched = await feedback.reports({ matched: false });
      assert.deepEqual(unmatched.rows.map((r) => r.address).sort(), ['someone@example.org', 'stranger@example.net']);
      assert.equal(unmatched.unmatched, 2);
    });

    it('a complaint unsubscribes and suppresses, and the next send skips the address', async () => {
      const first = await sendPost(t, newsletterId);
      const complainer = readers[2]!;
      await feedback.record([report({ kind: 'complaint', source: 'postmark', messageRef: { messageId: first.byEmail.get(complainer.email)!.message_id }, address: complainer.email })]);
      const sub = await t.db.db.selectFrom('subscriptions').selectAll().where('subscriber_id', '=', complainer.id).executeTakeFirstOrThrow();
      assert.equal(sub.status, 'unsubscribed');
      assert.equal((await suppressionOf(t, emailHash(complainer.email)))?.reason, 'complained');
      assert.equal((await eventsOf('complained')).length, 1);

      // Subscribed again by hand (say, a mistaken import): the suppression still keeps mail away.
      await t.db.db.updateTable('subscriptions').set({ status: 'active' }).where('subscriber_id', '=', complainer.id).execute();
      const before = smtp.messages.length;
      const second = await sendPost(t, newsletterId);
      const sentTo = smtp.messages.slice(before).flatMap((m) => m.envelope.to);
      assert.equal(sentTo.length, readers.length - 1);
      assert.ok(!sentTo.includes(complainer.email));
      assert.notEqual(second.byEmail.get(complainer.email)?.status, 'sent');
    });

    it('suppresses after 3 soft bounces within 15 days, counted with the injected clock', async () => {
      const reader = readers[0]!.email;
      const softFor = async () => {
        const { byEmail } = await sendPost(t, newsletterId);
        await feedback.record([report({ kind: 'soft_bounce', messageRef: { messageId: byEmail.get(reader)!.message_id }, address: reader, occurredAt: t.clock.now(), diagnosticCode: '4.2.2' })]);
        t.clock.advance(DAY);
      };
      await softFor();
      await softFor();
      assert.equal(await suppressionOf(t, emailHash(reader)), undefined, 'two are not enough');
      await softFor();
      const s = await suppressionOf(t, emailHash(reader));
      assert.equal(s?.reason, 'bounced');
      assert.match(s!.detail, /^3 soft bounces within 15 days/);
      const outcomes = await t.db.db.selectFrom('feedback_reports').select('outcome').orderBy('id').execute();
      assert.deepEqual(outcomes.map((o) => o.outcome), ['counted', 'counted', 'suppressed']);
    });

    const softOn = async (who: string[]) => {
      const { byEmail } = await sendPost(t, newsletterId);
      await feedback.record(who.map((a) => report({ kind: 'soft_bounce', messageRef: { messageId: byEmail.get(a)!.message_id }, address: a, occurredAt: t.clock.now() })));
      t.clock.advance(DAY);
    };

    it('forgets soft bounces older than the window', async () => {
      const reader = readers[0]!.email;
      await softOn([reader]);
      await softOn([reader]);
      t.clock.advance(15 * DAY);
      await softOn([reader]);
      assert.equal(await suppressionOf(t, emailHash(reader)), undefined, 'the first two fell out of the 15 days');
      await softOn([reader]);
      await softOn([reader]);
      assert.ok(await suppressionOf(t, emailHash(reader)), 'three within the window');
    });

    it('starts the count again after a delivery nothing bounced, and follows the writer’s policy', async () => {
      const reader = readers[1]!.email;
      await softOn([reader]);
      await softOn([reader]);
      await softOn([]);
      await softOn([reader]);
      assert.equal(await suppressionOf(t, emailHash(reader)), undefined, 'soft, soft, success, soft');
      await softOn([reader]);
      await softOn([reader]);
      assert.ok(await suppressionOf(t, emailHash(reader)), 'three since the success');

      await feedback.savePolicy({ softLimit: 1, softWindowDays: 15 });
      await softOn([readers[2]!.email]);
      assert.ok(await suppressionOf(t, emailHash(readers[2]!.email)), 'one is enough once the limit is 1');
    });

    it('empties raw payloads after 30 days with the feedback-prune job, keeping the reports', async () => {
      await feedback.record([report({ kind: 'hard_bounce', address: 'old@example.com', raw: 'the old payload' })]);
      t.clock.advance(29 * DAY);
      await feedback.record([report({ kind: 'hard_bounce', address: 'new@example.com', raw: 'the new payload' })]);
      t.clock.advance(2 * DAY);
      const result = await t.jobs.runOnce('feedback-prune');
      assert.equal(result.outcome, 'ok');
      const rows = await t.db.db.selectFrom('feedback_reports').select(['address', 'raw']).orderBy('id').execute();
      assert.deepEqual(rows, [
        { address: 'old@example.com', raw: null },
        { address: 'new@example.com', raw: 'the new payload' },
      ]);
    });
  });
}
