import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createSmtpMailer } from '../../../src/sending/smtp-mailer.js';
import { buildTestApp, OWNER, setupOwner, type Agent, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { startSmtpServer, type TestSmtpServer } from '../../helpers/smtp-server.js';
import { makeNewsletter, makePost, makeSubscriber, makeTag, postRow } from './factories.js';

const HTMX = { 'hx-request': 'true' };

/**
 * Records which posts the posts feature hands to the app's engine, passing each call on to it (what
 * startPost then does is the engine's own tests' business).
 */
function spyEngine(t: TestApp) {
  const started: number[] = [];
  const startPost = t.sending.startPost.bind(t.sending);
  t.sending.startPost = async (postId: number) => {
    started.push(postId);
    await startPost(postId);
  };
  return { started };
}

for (const dialect of DIALECTS) {
  describe(`posts: schedule, audience and send now (${dialect})`, () => {
    let t: TestApp;
    let admin: Agent;
    let newsletterId: number;
    beforeEach(async () => {
      t = await buildTestApp(dialect);
      admin = await setupOwner(t);
      newsletterId = (await makeNewsletter(t, { slug: 'weekly', time_zone: 'America/New_York' })).id;
    });
    afterEach(() => t.close());

    it('schedules in the newsletter’s time zone, shows it back in that zone, and unschedules', async () => {
      // The fake clock starts at 2026-11-22 12:00 UTC, 07:00 in New York.
      const id = await makePost(t, newsletterId, { subject: 'Monday issue' });
      let res = await admin.post(`/admin/posts/${id}/schedule`, { scheduled_at: '2026-11-23T09:30' });
      assert.equal(res.statusCode, 303);
      assert.equal(res.headers.location, `/admin/posts/${id}?scheduled=1`);
      let row = await postRow(t, id);
      assert.equal(row.status, 'scheduled');
      assert.equal(Number(row.scheduled_at), Date.UTC(2026, 10, 23, 14, 30));

      const page = await admin.get(`/admin/posts/${id}`);
      assert.match(page.body, /Scheduled for <strong>Mon, 23 Nov 2026, 09:30 \(America\/New_York\)<\/strong>/);
      assert.match(page.body, /name="scheduled_at" type="datetime-local" value="2026-11-23T09:30"/);
      const list = await admin.get('/admin/posts?status=scheduled');
      assert.match(list.body, /for Mon, 23 Nov 2026, 09:30 \(America\/New_York\)/);

      // Still editable, and reschedulable, until it starts.
      res = await admin.post(`/admin/posts/${id}/edit`, { subject: 'Monday issue (edited)', slug: row.slug, body: 'Edited' });
      assert.equal(res.statusCode, 303);
      res = await admin.post(`/admin/posts/${id}/schedule`, { scheduled_at: '2026-11-24T08:00' });
      assert.equal(res.statusCode, 303);
      row = await postRow(t, id);
      assert.equal(Number(row.scheduled_at), Date.UTC(2026, 10, 24, 13, 0));

      res = await admin.post(`/admin/posts/${id}/unschedule`);
      assert.equal(res.statusCode, 303);
      row = await postRow(t, id);
      assert.equal(row.status, 'draft');
      assert.equal(row.scheduled_at, null);
      assert.equal((await admin.post(`/admin/posts/${id}/unschedule`)).statusCode, 409);
    });

    it('refuses times in the past, nonsense and unsendable posts with the message beside the field', async () => {
      const id = await makePost(t, newsletterId, { subject: 'Soon' });
      let res = await admin.post(`/admin/posts/${id}/schedule`, { scheduled_at: '2026-11-22T06:59' });
      assert.equal(res.statusCode, 422);
      assert.match(res.body, /id="f-scheduled_at-error">Choose a time in the future \(times are in America\/New_York\)\./);
      t.clock.advance(60 * 60_000);
      res = await admin.post(`/admin/posts/${id}/schedule`, { scheduled_at: '2026-11-22T07:30' });
      assert.equal(res.statusCode, 422, 'the injected clock decides what "past" means');
      res = await admin.post(`/admin/posts/${id}/schedule`, { scheduled_at: '2026-02-30T10:00' });
      assert.equal(res.statusCode, 422);
      assert.match(res.body, /id="f-scheduled_at-error">Enter a date and time/);
      res = await admin.post(`/admin/posts/${id}/schedule`, { scheduled_at: '' });
      assert.equal(res.statusCode, 422);
      assert.match(res.body, /id="f-scheduled_at-error">Choose a date and time\./);

      const empty = await makePost(t, newsletterId, { subject: 'Empty', body: '' });
      res = await admin.post(`/admin/posts/${empty}/schedule`, { scheduled_at: '2026-12-01T09:00' });
      assert.equal(res.statusCode, 422);
      assert.match(res.body, /Fix this first: The body is empty\./);
      assert.equal((await postRow(t, id)).status, 'draft');
      assert.equal((await postRow(t, empty)).status, 'draft');

      const sent = await makePost(t, newsletterId, { status: 'sent', sent_at: t.clock.now() });
      assert.equal((await admin.post(`/admin/posts/${sent}/schedule`, { scheduled_at: '2026-12-01T09:00' })).statusCode, 409);
    });

    it('narrows the audience by tags and shows the count before sending', async () => {
      const vip = await makeTag(t, 'vip');
      const press = await makeTag(t, 'press');
      await makeSubscriber(t, newsletterId, { tags: [vip] });
      await makeSubscriber(t, newsletterId, { tags: [vip, press] });
      await makeSubscriber(t, newsletterId, { tags: [press] });
      await makeSubscriber(t, newsletterId);
      await makeSubscriber(t, newsletterId, { status: 'unsubscribed', tags: [vip] });
      await makeSubscriber(t, newsletterId, { status: 'pending' });
      const id = await makePost(t, newsletterId);

      let page = await admin.get(`/admin/posts/${id}`);
      assert.match(page.body, /It goes to <strong>4<\/strong> subscribers/);
      assert.match(page.body, /<label class="check" for="aud-include-\d+"><input type="checkbox" id="aud-include-\d+" name="include_tags" value="\d+"> vip<\/label>/);

      let res = await admin.post(`/admin/posts/${id}/audience`, { include_tags: String(vip) }, HTMX);
      assert.equal(res.statusCode, 200);
      assert.match(res.body, /^<section id="audience"/);
      assert.match(res.body, /It goes to <strong>2<\/strong> subscribers \(saved\)/);
      res = await admin.post(`/admin/posts/${id}/audience`, { include_tags: [String(vip)], exclude_tags: [String(press)] }, HTMX);
      assert.match(res.body, /It goes to <strong>1<\/strong> subscriber \(saved\)/);
      assert.deepEqual(JSON.parse((await postRow(t, id)).audience), { includeTags: [vip], excludeTags: [press] });

      // Unknown tag ids are dropped; malformed ones are a 422, not a 500.
      res = await admin.post(`/admin/posts/${id}/audience`, { include_tags: '99999' });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(JSON.parse((await postRow(t, id)).audience), { includeTags: [], excludeTags: [] });
      res = await admin.post(`/admin/posts/${id}/audience`, { include_tags: 'drop table' });
      assert.equal(res.statusCode, 422);

      spyEngine(t);
      page = await admin.get(`/admin/posts/${id}/send`);
      assert.match(page.body, /It goes to <strong>4<\/strong> subscribers/);
      assert.match(page.body, /Send to 4 subscribers now<\/button>/);
    });

    it('"Send now" is a confirm page, then a POST that hands the post to the engine', async () => {
      const engine = spyEngine(t);
      await makeSubscriber(t, newsletterId);
      const id = await makePost(t, newsletterId, { subject: 'Go' });
      const page = await admin.get(`/admin/posts/${id}`);
      assert.match(page.body, /<a class="button primary" href="\/admin\/posts\/\d+\/send">Send now…<\/a>/);
      const confirm = await admin.get(`/admin/posts/${id}/send`);
      assert.equal(confirm.statusCode, 200);
      assert.equal(engine.started.length, 0, 'showing the confirm page sends nothing');
      assert.match(confirm.body, /Send “Go” now\?/);
      const res = await admin.post(`/admin/posts/${id}/send`);
      assert.equal(res.statusCode, 303);
      assert.equal(res.headers.location, `/admin/posts/${id}?started=1`);
      assert.deepEqual(engine.started, [id]);

      // A post with nothing to send never reaches the engine.
      const empty = await makePost(t, newsletterId, { subject: '', body: '' });
      const refused = await admin.post(`/admin/posts/${empty}/send`);
      assert.equal(refused.statusCode, 422);
      assert.match(refused.body, /Fix this first: The subject is missing\. The body is empty\./);
      assert.deepEqual(engine.started, [id]);
    });

    it('shows a held scheduled post with a "send now anyway" button that starts it, or lets it be unscheduled', async () => {
      const engine = spyEngine(t);
      const held = {
        status: 'scheduled' as const,
        scheduled_at: t.clock.now() - 3 * 3600_000,
        held_reason: 'This post was scheduled 180 minutes ago, but Gazette was not running then. Send it now or reschedule it.',
      };
      const id = await makePost(t, newsletterId, held);
      const page = await admin.get(`/admin/posts/${id}`);
      assert.match(page.body, /Waiting for you/);
      assert.match(page.body, /scheduled 180 minutes ago, but Gazette was not running then/);
      assert.match(page.body, /<form method="post" action="\/admin\/posts\/\d+\/send">[\s\S]*?Send now anyway<\/button>/);
      const res = await admin.post(`/admin/posts/${id}/send`);
      assert.equal(res.statusCode, 303);
      assert.deepEqual(engine.started, [id]);

      const other = await makePost(t, newsletterId, held);
      assert.equal((await admin.post(`/admin/posts/${other}/unschedule`)).statusCode, 303);
      const row = await postRow(t, other);
      assert.equal(row.status, 'draft');
      assert.equal(row.held_reason, null);
      assert.deepEqual(engine.started, [id]);
    });
  });

  describe(`posts: test send through a real SMTP server (${dialect})`, () => {
    let t: TestApp;
    let smtp: TestSmtpServer;
    let admin: Agent;
    beforeEach(async () => {
      smtp = await startSmtpServer();
      const mailer = createSmtpMailer({ host: '127.0.0.1', port: smtp.port, secure: false, user: undefined, password: undefined }, undefined);
      t = await buildTestApp(dialect, { mailer });
      admin = await setupOwner(t);
    });
    afterEach(async () => {
      await t.close();
      await smtp.close();
    });

    it('sends "[Test]" mail with HTML and text parts, merge fields from the writer, and records no delivery', async () => {
      const n = await makeNewsletter(t, { name: 'Weekly Notes', slug: 'weekly', from_name: 'Olive', from_email: 'news@example.com', reply_to: 'olive@example.com' });
      const id = await makePost(t, n.id, {
        subject: 'Hello {{ subscriber.first_name | default: "there" }}',
        body: 'Dear {{ subscriber.name | default: "friend" }} ({{ subscriber.email }}), see [the web]({{ web_url }}).',
      });
      await admin.get(`/admin/posts/${id}`);
      const res = await admin.post(`/admin/posts/${id}/test`, { recipients: `${OWNER.email}, Second@Example.com` }, HTMX);
      assert.equal(res.statusCode, 200);
      assert.match(res.body, /^<section id="test-send"/);
      assert.match(res.body, /Test sent to olive@example.com, second@example.com\./);
      await smtp.waitFor(2);

      const mail = smtp.messages[0]!.parsed!;
      assert.deepEqual(smtp.messages.map((m) => m.envelope.to), [['olive@example.com'], ['second@example.com']]);
      assert.equal(mail.subject, '[Test] Hello Olive');
      assert.equal(mail.from?.value[0]?.address, 'news@example.com');
      assert.equal(mail.from?.value[0]?.name, 'Olive');
      assert.equal(mail.replyTo?.value[0]?.address, 'olive@example.com');
      assert.match(smtp.messages[0]!.raw.toString(), /Content-Type: multipart\/alternative/i);
      assert.match(String(mail.html), /Dear Olive Owner \(olive@example.com\), see <a href="http:\/\/gazette.test\/n\/weekly\/archive\/post-\d+"/);
      assert.match(String(mail.html), /1 Main Street, Springfield/);
      assert.match(mail.text ?? '', /Dear Olive Owner \(olive@example.com\), see the web\s+<http:\/\/gazette.test\/n\/weekly\/archive\/post-\d+>/);
      assert.match(mail.text ?? '', /Unsubscribe: http:\/\/gazette.test\/n\/weekly/);
      assert.doesNotMatch(String(mail.html) + mail.text, /\{\{|\}\}/);

      assert.equal((await t.db.db.selectFrom('deliveries').selectAll().execute()).length, 0);
      assert.equal((await postRow(t, id)).status, 'draft');
    });

    it('validates the recipients beside the field and reports a refusing relay', async () => {
      const n = await makeNewsletter(t);
      const id = await makePost(t, n.id);
      let res = await admin.post(`/admin/posts/${id}/test`, { recipients: 'not-an-address' });
      assert.equal(res.statusCode, 422);
      assert.match(res.body, /id="f-recipients-error">Enter valid email addresses/);
      res = await admin.post(`/admin/posts/${id}/test`, { recipients: 'a@x.com,b@x.com,c@x.com,d@x.com,e@x.com,f@x.com' });
      assert.equal(res.statusCode, 422);
      assert.match(res.body, /at most 5 addresses/);
      res = await admin.post(`/admin/posts/${id}/test`, { recipients: 'a@x.com\r\nBcc: victim@x.com' });
      assert.equal(res.statusCode, 422);
      assert.equal(smtp.messages.length, 0);

      smtp.respond.onRcpt = () => ({ code: 550, message: '5.1.1 No such user' });
      res = await admin.post(`/admin/posts/${id}/test`, { recipients: 'gone@example.com' });
      assert.equal(res.statusCode, 200);
      assert.match(res.body, /The test could not be sent: 550 5.1.1 No such user/);
    });
  });
}
