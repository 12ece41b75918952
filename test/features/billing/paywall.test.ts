import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { readerAccessQuery } from '../../../src/domain/paywall.js';
import { DIALECTS } from '../../helpers/db.js';
import { startSmtpServer, type TestSmtpServer } from '../../helpers/smtp-server.js';
import { addReaders, dkimKeys, makePost } from '../../sending/fixtures.js';
import { access, paidReader, paidRow, paidSetup, type PaidSetup } from './helpers.js';

const BODY = 'Everyone reads this teaser.\n\n<!-- paywall -->\n\nOnly paying readers read this secret part and [its link](https://example.com/paid-only).\n';
const OPEN = 'A post for everyone, with no wall in it.\n';
const rsa = dkimKeys('rsa');

/**
 * A post with `<!-- paywall -->`, sent by the real engine to an SMTP server: a reader with paid access gets
 * the whole post in the email; free and paused readers get the part above and a signed link, which the
 * archive honours only for a paying reader; the feed never carries the rest. Both ways the engine renders
 * a message are covered: in the SMTP worker (renderWire) and in process before DKIM signing (renderMessage),
 * the latter with click tracking on, which rewrites the links of the whole post too.
 */
for (const dialect of DIALECTS) {
  describe(`paywall (${dialect})`, () => {
    let s: PaidSetup;
    let smtp: TestSmtpServer;
    afterEach(async () => {
      await s?.close();
      await smtp?.close();
    });

    for (const dkim of [false, true]) {
      it(`emails the whole post to paying readers only, the rest through signed links (${dkim ? 'DKIM, rendered in process' : 'rendered by the SMTP worker'})`, async () => {
        smtp = await startSmtpServer();
        const signing = { DKIM_DOMAIN: 'mail.example.org', DKIM_SELECTOR: 'gz2026', DKIM_PRIVATE_KEY: rsa.privateKey.replace(/\n/g, '\\n') };
        s = await paidSetup(dialect, { env: { SMTP_URL: smtp.url, ...(dkim ? signing : {}) } });
        const [free] = await addReaders(s.t.db.db, s.newsletter.id, s.t.clock.now(), 1, { prefix: 'teaser-' });
        await paidReader(s, 'reader@example.com');
        const { subscription: pausing } = await paidReader(s, 'paused@example.com');
        const pausedRow = (await paidRow(s, pausing.id))!;
        const paused = await s.t.agent().post(`/billing/${(await access(s, 'paused@example.com'))!.token}/${pausedRow.id}/pause`, { months: '1' });
        assert.equal(paused.statusCode, 303);
        assert.equal((await access(s, 'paused@example.com'))?.paid_access, 0);

        if (dkim) await s.t.db.db.updateTable('newsletters').set({ tracking_mode: 'aggregate' }).where('id', '=', s.newsletter.id).execute();
        const postId = await makePost(s.t.db.db, s.newsletter.id, s.t.clock.now(), { subject: 'Walled', slug: 'walled', body: BODY });
        const openId = await makePost(s.t.db.db, s.newsletter.id, s.t.clock.now(), { subject: 'Open', slug: 'open', body: OPEN });
        await s.t.sending.startPost(postId);
        await s.t.sending.startPost(openId);
        await s.t.sending.runOnce();

        const mailTo = (email: string, subject: string) => {
          const m = smtp.messages.find((x) => x.envelope.to.includes(email) && x.parsed?.subject === subject);
          assert.ok(m, `${subject} reached ${email}`);
          assert.equal(m.parsed?.headers.has('dkim-signature'), dkim);
          return { html: String(m.parsed?.html), text: String(m.parsed?.text) };
        };

        // The paying reader: the whole post, without the marker and without the teaser's link.
        const whole = mailTo('reader@example.com', 'Walled');
        for (const part of [whole.html, whole.text]) {
          assert.match(part, /Everyone reads this teaser/);
          assert.match(part, /Only paying readers read this secret part/);
          assert.doesNotMatch(part, /access=|continues for paying subscribers|paywall/);
        }
        const tracked = await s.t.db.db.selectFrom('tracked_links').select('url').where('post_id', '=', postId).execute();
        if (dkim) {
          assert.deepEqual(tracked.map((l) => l.url), ['https://example.com/paid-only'], "the whole post's link is tracked");
          assert.match(whole.html, /href="http:\/\/gazette\.test\/c\/[^"]+"[^>]*>its link</);
        } else assert.match(whole.html, /href="https:\/\/example\.com\/paid-only"/);

        // The free and the paused reader: the part above and their own signed link.
        const linkIn = (email: string) => {
          const { html, text } = mailTo(email, 'Walled');
          for (const part of [html, text]) {
            assert.match(part, /Everyone reads this teaser/);
            assert.doesNotMatch(part, /secret part/, `${email}'s email does not carry the paid part`);
            assert.match(part, /continues for paying subscribers/);
          }
          const href = /href="([^"]*\/archive\/walled\?access=[^"]+)"/.exec(html)?.[1];
          assert.ok(href, 'the email links to the rest on the web');
          assert.ok(text.includes(href.replace(/&amp;/g, '&')), 'the text part has the same link');
          return href.replace(/&amp;/g, '&').replace('http://gazette.test', '');
        };
        const freeLink = linkIn(free!.email);
        const pausedLink = linkIn('paused@example.com');
        assert.notEqual(freeLink, pausedLink, 'each reader has their own link');

        // Without a paywall, paying and free readers get the same post.
        const personal = async (email: string) => {
          const { html, text } = mailTo(email, 'Open');
          const token = (await access(s, email))!.token;
          return [html, text].map((p) => p.replaceAll(token, 'TOKEN'));
        };
        const [openHtml, openText] = await personal('reader@example.com');
        assert.match(openText!, /A post for everyone, with no wall in it/);
        assert.doesNotMatch(openHtml!, /access=|continues for paying subscribers/);
        assert.deepEqual(await personal(free!.email), [openHtml, openText]);

        // On the web: the rest only by a paying reader's signed link (the one their email would have had).
        const delivery = await s.t.db.db.selectFrom('deliveries').select('message_id').where('post_id', '=', postId).where('email', '=', 'reader@example.com').executeTakeFirstOrThrow();
        const paidLink = `/n/${s.newsletter.slug}/archive/walled${readerAccessQuery(delivery.message_id, (await access(s, 'reader@example.com'))!.token)}`;
        const web = s.t.agent();
        const full = await web.get(paidLink);
        assert.equal(full.statusCode, 200);
        assert.match(full.body, /secret part/);
        assert.equal(full.headers['cache-control'], 'private, no-store');
        for (const url of [freeLink, pausedLink, `/n/${s.newsletter.slug}/archive/walled`, paidLink.replace(/.{4}$/, 'AAAA'), `${paidLink}x`]) {
          const page = await web.get(url);
          assert.equal(page.statusCode, 200, url);
          assert.match(page.body, /Everyone reads this teaser/);
          assert.doesNotMatch(page.body, /secret part/, url);
          assert.match(page.body, /for paying subscribers/);
        }
        const feed = await web.get(`/n/${s.newsletter.slug}/feed.xml`);
        assert.match(feed.body, /Everyone reads this teaser/);
        assert.doesNotMatch(feed.body, /secret part/);
      });
    }
  });
}
