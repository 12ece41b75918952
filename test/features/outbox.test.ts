import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import { devOutboxMailer } from '../../src/sending/dev-outbox.js';
import { buildTestApp, OWNER, setupOwner, type Agent, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/db.js';
import { addReaders, makeNewsletter, makePost } from '../sending/fixtures.js';

const BANNER = /<div class="banner warn" role="status">Mail is not being delivered/;

for (const dialect of DIALECTS) {
  describe(`dev outbox (${dialect})`, () => {
    let t: TestApp;
    let agent: Agent;

    beforeEach(async () => {
      t = await buildTestApp(dialect, { mailer: 'dev-outbox' });
      agent = await setupOwner(t);
    });
    afterEach(() => t.close());

    const outboxRows = () => t.db.db.selectFrom('dev_outbox').selectAll().orderBy('id').execute();

    it('shows the capture banner and the Outbox link on admin pages', async () => {
      for (const url of ['/admin', '/admin/settings', '/admin/outbox']) {
        const page = await agent.get(url);
        assert.equal(page.statusCode, 200, url);
        assert.match(page.body, BANNER, url);
        assert.match(page.body, /<a href="\/admin\/outbox"[^>]*>Outbox<\/a>/, url);
      }
      // Not on public pages, and not for a signed-out visitor.
      assert.doesNotMatch((await t.agent().get('/login')).body, BANNER);
    });

    it('has no banner and no Outbox link when mail really goes out', async () => {
      const other = await buildTestApp(dialect);
      try {
        const page = await (await setupOwner(other)).get('/admin');
        assert.doesNotMatch(page.body, BANNER);
        assert.doesNotMatch(page.body, />Outbox</);
      } finally {
        await other.close();
      }
    });

    it('keeps a test email as a raw RFC 5322 message', async () => {
      await agent.get('/admin/settings');
      const res = await agent.post('/admin/settings/test-email');
      assert.equal(res.statusCode, 200);
      assert.match(res.body, /Stored in the dev outbox \(no SMTP relay is configured\)\./);

      const rows = await outboxRows();
      assert.equal(rows.length, 1);
      const row = rows[0]!;
      assert.equal(row.to_address, OWNER.email);
      assert.equal(row.from_address, 'Gazette <gazette@gazette.test>');
      assert.equal(row.subject, 'Gazette test email');
      assert.equal(row.created_at, t.clock.now());
      assert.match(row.message_id, /^<[\w-]+@gazette\.test>$/);

      // The raw message is what would have gone on the wire: CRLF lines, headers, blank line, body.
      assert.match(row.raw, /^[\x21-\x39\x3b-\x7e]+: /, 'starts with a header field');
      assert.ok(row.raw.includes('\r\n\r\n'), 'headers end with an empty line');
      assert.doesNotMatch(row.raw.replace(/\r\n/g, ''), /\n/, 'every line ends in CRLF');
      assert.ok(row.raw.split('\r\n').every((line) => line.length <= 998), 'no line is longer than 998 characters');
      const parsed = await simpleParser(row.raw);
      assert.equal(parsed.subject, 'Gazette test email');
      assert.equal(parsed.messageId, row.message_id);
      assert.deepEqual(parsed.from?.value, [{ name: 'Gazette', address: 'gazette@gazette.test' }]);
      assert.equal(parsed.date?.getTime(), t.clock.now(), 'dated by the app clock');
      assert.match(parsed.text ?? '', /If you can read it, sending works\./);
      assert.equal(parsed.headers.get('mime-version'), '1.0');
    });

    it('lists captured mail and shows a message with its HTML in a sandboxed frame and its text', async () => {
      // A richer message than the test email, through another mailer on the app's dev outbox.
      const html = '<p>Hello <b>reader</b> &amp; friends</p><script>alert("x")</script>';
      await devOutboxMailer(t.devOutbox, t.clock).send({
        from: 'Olive <olive@example.com>',
        to: 'reader@example.org',
        subject: 'Issue #1: "Hello" & <welcome>',
        text: 'Hello reader & friends\nSecond line',
        html,
        headers: { 'List-Id': 'Olive news <news.example.com>' },
      });
      const [row] = await outboxRows();

      const list = await agent.get('/admin/outbox');
      assert.equal(list.statusCode, 200);
      assert.ok(list.body.includes(`<a href="/admin/outbox/${row!.id}">Issue #1: &quot;Hello&quot; &amp; &lt;welcome&gt;</a>`));
      assert.ok(list.body.includes('<td>reader@example.org</td>'));
      assert.match(list.body, /<form method="post" action="\/admin\/outbox\/clear">/);

      const show = await agent.get(`/admin/outbox/${row!.id}`);
      assert.equal(show.statusCode, 200);
      const frame = /<iframe class="mail-preview" sandbox title="[^"]*" srcdoc="([^"]*)"><\/iframe>/.exec(show.body);
      assert.ok(frame, 'the HTML part is in an iframe with an empty sandbox attribute (no scripts, no same origin)');
      const srcdoc = frame[1]!.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
      assert.equal(srcdoc, html);
      assert.ok(!show.body.includes('<script>alert'), 'the message HTML is never part of the page itself');
      assert.ok(show.body.includes('<pre class="mail-text">Hello reader &amp; friends\nSecond line</pre>'));
      assert.match(show.body, /List-Id: Olive news &lt;news\.example\.com&gt;/i);
      assert.match(String(show.headers['content-security-policy']), /script-src 'self'/);
    });

    it('keeps single mail and the bulk send in the one outbox the admin reads, as the bytes a relay would get', async () => {
      const stored: string[] = [];
      const store = t.devOutbox.store.bind(t.devOutbox);
      t.devOutbox.store = async (m) => {
        stored.push(m.subject);
        await store(m);
      };
      const n = await makeNewsletter(t.db.db, t.clock.now());
      await addReaders(t.db.db, n.id, t.clock.now(), 2);
      const postId = await makePost(t.db.db, n.id, t.clock.now(), { subject: 'Issue one' });
      await agent.get(`/admin/posts/${postId}`);
      assert.equal((await agent.post(`/admin/posts/${postId}/test`, { recipients: OWNER.email })).statusCode, 200);
      assert.equal((await agent.post(`/admin/posts/${postId}/send`)).statusCode, 303);
      await t.sending.runOnce();

      assert.deepEqual(stored, ['[Test] Issue one', 'Issue one', 'Issue one'], 'both mail paths store through the app’s one dev outbox');
      const list = await agent.get('/admin/outbox');
      assert.equal((list.body.match(/>\[Test\] Issue one</g) ?? []).length, 1);
      assert.equal((list.body.match(/>Issue one</g) ?? []).length, 2);

      // The bulk message is kept exactly as rendered for the wire: CRLF lines, headers, blank line, body.
      const bulk = (await outboxRows()).filter((r) => r.subject === 'Issue one');
      const delivery = await t.db.db.selectFrom('deliveries').selectAll().where('email', '=', bulk[0]!.to_address).executeTakeFirstOrThrow();
      assert.equal(delivery.status, 'sent');
      assert.equal(bulk[0]!.message_id, delivery.message_id);
      assert.doesNotMatch(bulk[0]!.raw.replace(/\r\n/g, ''), /\n/, 'every line ends in CRLF');
      const parsed = await simpleParser(bulk[0]!.raw);
      assert.equal(parsed.messageId, delivery.message_id);
      assert.equal(parsed.to && !Array.isArray(parsed.to) ? parsed.to.value[0]?.address : undefined, delivery.email);
    });

    it('answers 404 for a message that is not there', async () => {
      for (const url of ['/admin/outbox/999999', '/admin/outbox/abc', '/admin/outbox/-1']) {
        const res = await agent.get(url);
        assert.equal(res.statusCode, 404, url);
        assert.match(res.body, /That message is not in the outbox\./);
      }
    });

    it('pages through a long outbox, newest first', async () => {
      const mailer = devOutboxMailer(t.devOutbox, t.clock);
      for (let i = 1; i <= 52; i++) {
        await mailer.send({ from: 'a@example.com', to: `r${i}@example.org`, subject: `Message ${i}`, text: 'x' });
      }
      const first = await agent.get('/admin/outbox');
      assert.equal((first.body.match(/<tr>\s*<td><a href/g) ?? []).length, 50);
      assert.ok(first.body.indexOf('Message 52') < first.body.indexOf('Message 51'));
      assert.doesNotMatch(first.body, />Message 2</);
      const older = /<a href="(\/admin\/outbox\?before=\d+)">Older messages<\/a>/.exec(first.body);
      assert.ok(older);
      const second = await agent.get(older[1]!);
      assert.equal((second.body.match(/<tr>\s*<td><a href/g) ?? []).length, 2);
      assert.match(second.body, />Message 2</);
      assert.match(second.body, />Message 1</);
      assert.doesNotMatch(second.body, /Older messages/);
    });

    it('empties the outbox', async () => {
      await agent.get('/admin/settings');
      await agent.post('/admin/settings/test-email');
      await agent.post('/admin/settings/test-email');
      assert.equal((await outboxRows()).length, 2);

      await agent.get('/admin/outbox');
      const res = await agent.post('/admin/outbox/clear');
      assert.equal(res.statusCode, 303);
      assert.equal(res.headers.location, '/admin/outbox');
      assert.equal((await outboxRows()).length, 0);
      const page = await agent.get('/admin/outbox');
      assert.match(page.body, /The outbox is empty\./);
      assert.doesNotMatch(page.body, /Empty the outbox/);
    });
  });
}
