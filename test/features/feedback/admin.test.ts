import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { emailHash, suppress } from '../../../src/domain/suppressions.js';
import type { FeedbackService } from '../../../src/features/feedback/service.js';
import { buildTestApp, setupOwner, type Agent, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { firstNewsletterId, makeSubscriber, uploadCsv } from '../subscribers/factories.js';
import { feedbackOf, report, suppressionOf } from './helpers.js';

for (const dialect of DIALECTS) {
  describe(`feedback admin pages (${dialect})`, () => {
    let t: TestApp;
    let admin: Agent;
    let feedback: FeedbackService;

    beforeEach(async () => {
      t = await buildTestApp(dialect);
      admin = await setupOwner(t);
      feedback = feedbackOf(t);
    });
    afterEach(() => t.close());

    it('lists suppressions with reason, source and date; searches, filters and exports them', async () => {
      const newsletterId = await firstNewsletterId(t.db.db);
      const alice = await makeSubscriber(t.db.db, { email: 'alice@example.com', subscriptions: [{ newsletterId, status: 'active' }] });
      await makeSubscriber(t.db.db, { email: 'bob@example.org', subscriptions: [{ newsletterId, status: 'active' }] });
      await feedback.record([report({ kind: 'complaint', source: 'sendgrid', address: 'alice@example.com', diagnosticText: 'abuse' })]);
      await feedback.record([report({ kind: 'hard_bounce', source: 'ses', address: 'bob@example.org', diagnosticCode: '5.1.1', diagnosticText: 'user unknown' })]);
      // An address whose subscriber was erased long ago: only its hash is left.
      await suppress(t.db.db, 'erased@example.net', 'bounced', t.clock.now() - 1000, '550 gone');

      let page = await admin.get('/admin/suppressions');
      assert.equal(page.statusCode, 200);
      assert.match(page.body, new RegExp(`<a href="/admin/subscribers/${alice}">alice@example.com</a></td>\\s*<td>complained</td>\\s*<td>sendgrid</td>`));
      assert.match(page.body, /bob@example\.org<\/a><\/td>\s*<td>bounced<\/td>\s*<td>ses<\/td>\s*<td>5\.1\.1 user unknown<\/td>\s*<td>2026-11-22 12:00 UTC<\/td>/);
      assert.match(page.body, /Deleted subscriber \(/);

      page = await admin.get('/admin/suppressions?q=ALICE');
      assert.match(page.body, /alice@example\.com/);
      assert.doesNotMatch(page.body, /bob@example\.org/);
      page = await admin.get('/admin/suppressions?q=erased@example.net');
      assert.match(page.body, /Deleted subscriber/, 'a full address finds an erased subscriber’s suppression by its hash');
      page = await admin.get('/admin/suppressions?reason=bounced&source=ses');
      assert.match(page.body, /bob@example\.org/);
      assert.doesNotMatch(page.body, /alice@example\.com|Deleted subscriber/);
      assert.equal((await admin.get('/admin/suppressions?q=%25&reason=nonsense&after=zzz')).statusCode, 200, 'odd input is read as no filter');

      const csv = await admin.get('/admin/suppressions/export.csv?reason=complained');
      assert.equal(csv.statusCode, 200);
      assert.match(String(csv.headers['content-disposition']), /attachment; filename="suppressions-2026-11-22\.csv"/);
      const lines = csv.body.replace(/^\uFEFF/, '').trim().split('\r\n');
      assert.equal(lines[0], 'email,email_hash,reason,source,detail,suppressed_at');
      assert.deepEqual(lines.slice(1).map((l) => l.split(',').slice(0, 4)), [['alice@example.com', emailHash('alice@example.com'), 'complained', 'sendgrid']]);
    });

    it('blocks an address by hand from the Suppressions page, and names the field of a bad one', async () => {
      const newsletterId = await firstNewsletterId(t.db.db);
      const carol = await makeSubscriber(t.db.db, { email: 'carol@example.com', subscriptions: [{ newsletterId, status: 'active' }] });
      await admin.get('/admin/suppressions');
      const bad = await admin.post('/admin/suppressions', { email: 'not an address', detail: 'x' });
      assert.equal(bad.statusCode, 422);
      assert.match(bad.body, /id="f-email-error"/);
      assert.match(bad.body, /value="not an address"/, 'what was typed is kept');
      assert.equal((await t.db.db.selectFrom('suppressions').select('email_hash').execute()).length, 0);

      const done = await admin.post('/admin/suppressions', { email: ' Carol@Example.com ', detail: 'asked  by phone' });
      assert.equal(done.statusCode, 303);
      assert.equal(done.headers.location, '/admin/suppressions?blocked=1');
      const row = await suppressionOf(t, emailHash('carol@example.com'));
      assert.deepEqual([row?.reason, row?.source, row?.detail], ['blocked', 'admin', 'asked by phone']);
      const history = await admin.get(`/admin/subscribers/${carol}`);
      assert.match(history.body, /Blocked: added to the suppression list by olive@example\.com/);
      assert.match((await admin.get('/admin/suppressions?blocked=1')).body, /The address is blocked/);
    });

    it('removes an address from suppression after a confirmation, and logs it on the subscriber', async () => {
      const newsletterId = await firstNewsletterId(t.db.db);
      const id = await makeSubscriber(t.db.db, { email: 'carol@example.com', subscriptions: [{ newsletterId, status: 'active' }] });
      await feedback.record([report({ kind: 'hard_bounce', source: 'postmark', address: 'carol@example.com' })]);
      const hash = emailHash('carol@example.com');

      const confirm = await admin.get(`/admin/suppressions/${hash}/remove`);
      assert.equal(confirm.statusCode, 200);
      assert.match(confirm.body, /Remove carol@example\.com from suppression\?/);
      assert.ok(await suppressionOf(t, hash), 'the confirmation page changes nothing');

      const done = await admin.post(`/admin/suppressions/${hash}/remove`);
      assert.equal(done.statusCode, 303);
      assert.equal(done.headers.location, '/admin/suppressions?removed=1');
      assert.equal(await suppressionOf(t, hash), undefined);
      const event = await t.db.db.selectFrom('events').selectAll().where('type', '=', 'unsuppressed').executeTakeFirstOrThrow();
      assert.equal(event.subscriber_id, id);
      assert.deepEqual(JSON.parse(event.data), { reason: 'bounced', source: 'postmark', detail: 'hard bounce', by: 'olive@example.com' });
      const history = await admin.get(`/admin/subscribers/${id}`);
      assert.match(history.body, /Removed from the suppression list by olive@example\.com/);

      assert.equal((await admin.post(`/admin/suppressions/${hash}/remove`)).statusCode, 404, 'twice is a 404');
      assert.equal((await admin.get('/admin/suppressions/not-a-hash/remove')).statusCode, 404);
      const forged = await admin.post(`/admin/suppressions/${hash}/remove`, { _csrf: 'forged' });
      assert.equal(forged.statusCode, 403);
      const anonymous = await t.agent().get('/admin/suppressions');
      assert.equal(anonymous.statusCode, 303);
    });

    it('never lets an import subscribe a complainer again, even after the suppression is lifted', async () => {
      const newsletterId = await firstNewsletterId(t.db.db);
      const id = await makeSubscriber(t.db.db, { email: 'dora@example.com', subscriptions: [{ newsletterId, status: 'active' }] });
      await feedback.record([report({ kind: 'complaint', source: 'ses', address: 'dora@example.com' })]);
      assert.equal((await admin.post(`/admin/suppressions/${emailHash('dora@example.com')}/remove`)).statusCode, 303);
      // Erased as the writer erases (GDPR): the report keeps the hash, not the address.
      assert.equal((await admin.post(`/admin/subscribers/${id}/delete`)).statusCode, 303);
      const kept = await t.db.db.selectFrom('feedback_reports').select(['address', 'raw', 'email_hash']).executeTakeFirstOrThrow();
      assert.deepEqual(kept, { address: `erased:${emailHash('dora@example.com')}`, raw: null, email_hash: emailHash('dora@example.com') });

      await admin.get('/admin/subscribers/import');
      const res = await uploadCsv(admin, { newsletter_id: String(newsletterId), mode: 'confirmed' }, { filename: 'list.csv', content: 'email\r\ndora@example.com\r\nerin@example.com\r\n' });
      assert.equal(res.statusCode, 303, res.body.slice(0, 500));
      await t.app.imports.idle();
      const emails = (await t.db.db.selectFrom('subscribers').select('email').execute()).map((r) => r.email);
      assert.ok(emails.includes('erin@example.com'));
      assert.ok(!emails.includes('dora@example.com'), 'the complainer was skipped');
    });

    it('shows unmatched reports with their raw payload, and a post’s counts and reasons', async () => {
      await feedback.record([
        report({ kind: 'soft_bounce', address: 'someone@example.org', messageRef: { messageId: 'unknown@elsewhere' }, raw: 'Final-Recipient: rfc822; someone@example.org', diagnosticCode: '4.2.2', diagnosticText: 'mailbox full' }),
      ]);
      const list = await admin.get('/admin/feedback?matched=no');
      assert.equal(list.statusCode, 200);
      assert.match(list.body, /Unmatched <span class="count">1<\/span>/);
      assert.match(list.body, /someone@example\.org/);
      const id = (await t.db.db.selectFrom('feedback_reports').select('id').executeTakeFirstOrThrow()).id;
      const detail = await admin.get(`/admin/feedback/${id}`);
      assert.match(detail.body, /Final-Recipient: rfc822; someone@example\.org/);
      assert.match(detail.body, /Unmatched/);
      assert.equal((await admin.get('/admin/feedback/99999')).statusCode, 404);

      const postPage = await admin.get('/admin/posts/99999/feedback');
      assert.equal(postPage.statusCode, 404);
    });

    it('warns on the dashboard when a post’s complaint rate passes 0.1% or its hard bounces 2%', async () => {
      const newsletterId = await firstNewsletterId(t.db.db);
      const now = t.clock.now();
      const postOf = async (subject: string) =>
        (await t.db.db.insertInto('posts').values({ newsletter_id: newsletterId, slug: subject.toLowerCase().replace(/\W+/g, '-'), subject, status: 'sent', started_at: now, sent_at: now, created_at: now, updated_at: now }).returning('id').executeTakeFirstOrThrow()).id;
      const noisy = await postOf('Noisy issue');
      const quiet = await postOf('Quiet issue');
      for (const postId of [noisy, quiet]) {
        await t.db.db
          .insertInto('deliveries')
          .values(Array.from({ length: 200 }, (_, i) => ({ post_id: postId, email: `r${i}@example.com`, message_id: `<p${postId}-${i}@gazette.test>`, status: 'sent' as const, sent_at: now, updated_at: now })))
          .execute();
      }
      assert.doesNotMatch((await admin.get('/admin')).body, /role="alert"/);
      // One complaint in 200 is 0.5%; three hard bounces are 1.5%, under 2%.
      await feedback.record([
        report({ kind: 'complaint', messageRef: { messageId: `p${noisy}-0@gazette.test` }, address: 'r0@example.com' }),
        ...[1, 2, 3].map((i) => report({ kind: 'hard_bounce', messageRef: { messageId: `p${quiet}-${i}@gazette.test` }, address: `r${i}@example.com` })),
      ]);
      let page = await admin.get('/admin');
      assert.match(page.body, /“Noisy issue”: 0\.50% of recipients marked it as spam \(keep it under 0\.1%\)\.<\/strong>/);
      assert.doesNotMatch(page.body, /“Quiet issue”/);
      await feedback.record([report({ kind: 'hard_bounce', messageRef: { messageId: `p${quiet}-4@gazette.test` }, address: 'r4@example.com' }),
        report({ kind: 'hard_bounce', messageRef: { messageId: `p${quiet}-5@gazette.test` }, address: 'r5@example.com' })]);
      page = await admin.get('/admin');
      assert.match(page.body, /“Quiet issue”: 2\.5% hard-bounced \(keep it under 2%\)/);
      assert.match(page.body, new RegExp(`href="/admin/posts/${quiet}/feedback"`));

      await t.db.db.updateTable('deliveries').set({ status: 'failed', error: '550 5.1.1 <r199@example.com>: user unknown' }).where('post_id', '=', quiet).where('email', '=', 'r199@example.com').execute();
      const stats = await admin.get(`/admin/posts/${quiet}/feedback`);
      assert.match(stats.body, /<span class="value">1<\/span><span class="label">Refused while sending<\/span>/);
      assert.match(stats.body, /<td>550 5\.1\.1 &lt;r199@example\.com&gt;: user unknown<\/td><td class="num">1<\/td>/);
      assert.match(stats.body, /<span class="value">199<\/span><span class="label">Sent<\/span>/);
      assert.match(stats.body, /<span class="value">5<\/span><span class="label">Hard bounces \(2\.5%\)<\/span>/);
    });

    it('shows the policy with its defaults and the webhook addresses, and saves a valid one', async () => {
      let page = await admin.get('/admin/feedback/policy');
      assert.match(page.body, /name="softLimit" type="number" value="3"/);
      assert.match(page.body, /name="softWindowDays" type="number" value="15"/);
      assert.match(page.body, /http:\/\/gazette\.test\/webhooks\/bounces\/ses<\/code><\/td><td>off \(no secret set\)/);

      const bad = await admin.post('/admin/feedback/policy', { softLimit: '0', softWindowDays: 'a week' });
      assert.equal(bad.statusCode, 422);
      assert.match(bad.body, /id="f-softLimit-error">At least 1\./);
      assert.match(bad.body, /id="f-softWindowDays-error">Enter a whole number of days\./);
      assert.deepEqual(await feedback.policy(), { softLimit: 3, softWindowDays: 15 });

      const ok = await admin.post('/admin/feedback/policy', { softLimit: '5', softWindowDays: '30' });
      assert.equal(ok.statusCode, 303);
      assert.deepEqual(await feedback.policy(), { softLimit: 5, softWindowDays: 30 });
      page = await admin.get('/admin/feedback/policy?saved=1');
      assert.match(page.body, /The bounce policy is saved\./);
      assert.match(page.body, /name="softLimit" type="number" value="5"/);
    });
  });
}
