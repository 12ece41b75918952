import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AddressObject, ParsedMail } from 'mailparser';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/db.js';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp-server.js';
import { isWireReady } from '../../src/sending/transport.js';
import { verifyDkim } from './dkim-verify.js';
import { addReaders, deliveries, dkimKeys, makeNewsletter, makePost, testRenderer } from './fixtures.js';

/**
 * What arrives at a real SMTP server, parsed by a real MIME parser (mailparser): headers, both parts,
 * encodings of non-ASCII names and subjects, merge fields, header-injection attempts, line lengths,
 * and the DKIM signature checked by an independent verifier.
 */

const rsa = dkimKeys('rsa');

/** One header's value exactly as sent (unfolded), from mailparser's raw header lines. */
function rawHeader(p: ParsedMail, key: string): string | undefined {
  const line = p.headerLines.find((h) => h.key === key)?.line;
  return line?.slice(line.indexOf(':') + 1).replace(/\r?\n[ \t]/g, ' ').trim();
}

const NAMES = [
  'Jürgen Groß',
  'Evil\r\nBcc: victim@example.com',
  '"Quoted" \\ Name, Jr.',
  '<script>alert(1)</script>',
  '',
  '山田 太郎',
  '.dotty',
];

for (const dialect of DIALECTS) {
  describe(`messages on the wire (${dialect})`, () => {
    let smtp: TestSmtpServer;
    let t: TestApp;
    let postId: number;
    let newsletterSlug: string;
    const longLine = `${'Ünïcödé and a long line without breaks '.repeat(150)}end.`;
    // Lines that SMTP would have to dot-stuff, and one that alone would end DATA.
    const dotted = '\n.\n..two dots\n.leading dot';

    before(async () => {
      smtp = await startSmtpServer();
      t = await buildTestApp(dialect, {
        env: {
          SMTP_URL: smtp.url,
          SMTP_POOL_SIZE: '2',
          DKIM_DOMAIN: 'mail.example.org',
          DKIM_SELECTOR: 'gz2026',
          DKIM_PRIVATE_KEY: rsa.privateKey.replace(/\n/g, '\\n'),
          LIST_UNSUBSCRIBE_MAILTO: 'unsubscribe@example.com',
        },
        renderer: testRenderer,
      });
      const nl = await makeNewsletter(t.db.db, t.clock.now(), { from_name: 'Zoë Écrivain\r\nX-Injected: yes', reply_to: 'replies@example.com' });
      newsletterSlug = nl.slug;
      await addReaders(t.db.db, nl.id, t.clock.now(), NAMES.length, { name: (i) => NAMES[i]! });
      postId = await makePost(t.db.db, nl.id, t.clock.now(), {
        subject: 'Grüße aus Köln — für {{ subscriber.first_name | default: "dich" }}\r\nBcc: evil@example.com',
        body: longLine + dotted,
      });
      await t.sending.startPost(postId);
      await t.sending.runOnce();
      await smtp.waitFor(NAMES.length);
    });
    after(async () => {
      await t.close();
      await smtp.close();
    });

    const byRecipient = (email: string) => {
      const m = smtp.messages.find((x) => x.envelope.to.includes(email));
      assert.ok(m, `no message for ${email}`);
      return m;
    };

    it('sends one message per recipient, each to that recipient only', async () => {
      const rows = await deliveries(t.db.db, postId);
      assert.equal(rows.length, NAMES.length);
      assert.ok(rows.every((r) => r.status === 'sent' && r.response?.startsWith('250')));
      for (const r of rows) {
        const m = byRecipient(r.email);
        assert.deepEqual(m.envelope.to, [r.email]);
        assert.equal(m.envelope.from, 'news@example.com');
        assert.equal(m.parsed!.messageId, r.message_id);
        assert.match(r.message_id, /^<[A-Za-z0-9_-]+@mail\.example\.org>$/, 'Message-ID on the DKIM domain');
      }
      assert.equal(new Set(rows.map((r) => r.message_id)).size, rows.length);
    });

    it('carries From, Reply-To, To, Subject, Date and the list headers, with injection neutralised', async () => {
      const rows = await deliveries(t.db.db, postId);
      for (const [i, name] of NAMES.entries()) {
        const row = rows[i]!;
        const p = byRecipient(row.email).parsed!;
        const from = p.from!.value[0]!;
        assert.equal(from.address, 'news@example.com');
        assert.equal(from.name, 'Zoë Écrivain X-Injected: yes');
        assert.equal((p.replyTo as AddressObject).value[0]!.address, 'replies@example.com');
        const to = (p.to as AddressObject).value[0]!;
        assert.equal(to.address, row.email);
        assert.equal(to.name, name.replace(/\r\n/g, ' '));
        const first = name.trim().split(/\s+/)[0] || 'dich';
        assert.equal(p.subject, `Grüße aus Köln — für ${first} Bcc: evil@example.com`);
        assert.equal(p.headers.get('bcc'), undefined);
        assert.equal(p.headers.get('x-injected'), undefined);
        assert.equal(p.date!.getTime(), t.clock.now());
        assert.equal(p.headers.get('mime-version'), '1.0');
        assert.equal(p.headers.get('precedence'), 'bulk');
        assert.equal(rawHeader(p, 'list-unsubscribe-post'), 'List-Unsubscribe=One-Click');
        const list = p.headers.get('list') as { id: { id: string }; unsubscribe: { url: string; mail?: string } };
        assert.equal(list.id.id, `${newsletterSlug}.gazette.test`);
        const token = (await t.db.db.selectFrom('subscribers').select('token').where('email', '=', row.email).executeTakeFirstOrThrow()).token;
        const lu = list.unsubscribe;
        assert.equal(lu.url, `http://gazette.test/unsubscribe/${token}`);
        assert.equal(lu.mail, 'unsubscribe@example.com?subject=unsubscribe%20' + token);
      }
    });

    it('has a text and an HTML part with merge fields filled in (HTML-escaped in HTML)', async () => {
      const rows = await deliveries(t.db.db, postId);
      for (const [i, name] of NAMES.entries()) {
        const p = byRecipient(rows[i]!.email).parsed!;
        const shown = name.trim() === '' ? 'friend' : name.replace(/\r\n/g, '\n');
        assert.match(String(p.headers.get('content-type') && (p.headers.get('content-type') as { value: string }).value), /^multipart\/alternative$/);
        assert.ok(p.text!.replace(/\r\n/g, '\n').startsWith(`Hello ${shown},\n\n${longLine}${dotted}\n`), `text part for ${JSON.stringify(name)}`);
        const html = String(p.html).replace(/\r\n/g, '\n');
        const escaped = shown.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
        assert.ok(html.includes(`<p>Hello ${escaped},</p><p>${longLine}${dotted}</p>`), `html part for ${JSON.stringify(name)}`);
        assert.ok(!html.includes('<script>'));
        assert.match(html, new RegExp(`href="http://gazette.test/n/${newsletterSlug}/archive/post-\\d+"`));
      }
    });

    it('keeps every line within 78 octets of headers and 76 of body (never near 998)', () => {
      for (const m of smtp.messages) {
        const text = m.raw.toString('latin1');
        const [head, ...rest] = text.split('\r\n\r\n');
        for (const line of head!.split('\r\n')) {
          if (/^DKIM-Signature|^ /.test(line)) assert.ok(line.length <= 998);
          else assert.ok(line.length <= 78 || !line.includes(' '), `header line too long: ${line}`);
        }
        for (const line of rest.join('\r\n\r\n').split('\r\n')) assert.ok(line.length <= 76, `body line of ${line.length}`);
        assert.ok(/^[\x00-\x7f]*$/.test(text), 'the message is 7-bit clean');
        assert.ok(!/\r(?!\n)|(?<!\r)\n/.test(text), 'CRLF line ends only');
        // Received as sent: no line starts with a dot, so it went out without dot-stuffing.
        assert.ok(isWireReady(m.raw), 'the message needed no dot-stuffing');
      }
    });

    it('is DKIM-signed over both List-* headers, and the signature verifies', () => {
      for (const m of smtp.messages) {
        const result = verifyDkim(m.raw, rsa.publicKey);
        assert.ok(result.ok, result.reason);
        assert.equal(result.tags.d, 'mail.example.org');
        assert.equal(result.tags.s, 'gz2026');
        const signed = result.signedHeaders.map((h) => h.toLowerCase());
        for (const h of ['from', 'to', 'subject', 'date', 'message-id', 'list-id', 'list-unsubscribe', 'list-unsubscribe-post', 'mime-version', 'content-type']) {
          assert.ok(signed.includes(h), `h= lacks ${h}`);
        }
      }
      // A changed byte breaks it: the verifier is not a rubber stamp.
      const tampered = Buffer.from(smtp.messages[0]!.raw.toString('latin1').replace('Hello', 'Jello'), 'latin1');
      assert.equal(verifyDkim(tampered, rsa.publicKey).ok, false);
    });
  });
}

describe('Ed25519 DKIM', () => {
  it('signs with ed25519-sha256 when the key is Ed25519', async () => {
    const ed = dkimKeys('ed25519');
    const smtp = await startSmtpServer();
    const t = await buildTestApp('sqlite', {
      env: { SMTP_URL: smtp.url, DKIM_DOMAIN: 'example.com', DKIM_SELECTOR: 'ed', DKIM_PRIVATE_KEY: ed.privateKey.replace(/\n/g, '\\n') },
      renderer: testRenderer,
    });
    try {
      const nl = await makeNewsletter(t.db.db, t.clock.now());
      await addReaders(t.db.db, nl.id, t.clock.now(), 3);
      const postId = await makePost(t.db.db, nl.id, t.clock.now());
      await t.sending.startPost(postId);
      await t.sending.runOnce();
      await smtp.waitFor(3);
      for (const m of smtp.messages) {
        const r = verifyDkim(m.raw, ed.publicKey);
        assert.ok(r.ok, r.reason);
        assert.equal(r.tags.a, 'ed25519-sha256');
      }
    } finally {
      await t.close();
      await smtp.close();
    }
  });
});
