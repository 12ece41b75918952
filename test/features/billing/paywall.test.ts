import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { DIALECTS } from '../../helpers/db.js';
import { startSmtpServer, type TestSmtpServer } from '../../helpers/smtp-server.js';
import { addReaders, makePost } from '../../sending/fixtures.js';
import { access, paidReader, paidRow, paidSetup, type PaidSetup } from './helpers.js';

const BODY = 'Everyone reads this teaser.\n\n<!-- paywall -->\n\nOnly paying readers read this secret part.\n';

/**
 * A post with `<!-- paywall -->`: the email carries the part above and a signed link; the archive shows the
 * rest only through a paying reader's link; the feed never carries it.
 */
for (const dialect of DIALECTS) {
  describe(`paywall (${dialect})`, () => {
    let s: PaidSetup;
    let smtp: TestSmtpServer;
    afterEach(async () => {
      await s?.close();
      await smtp?.close();
    });

    it('shows the rest of a post only to a paying reader arriving by their link, never in the email or the feed', async () => {
      smtp = await startSmtpServer();
      s = await paidSetup(dialect, { env: { SMTP_URL: smtp.url } });
      const [free] = await addReaders(s.t.db.db, s.newsletter.id, s.t.clock.now(), 1, { prefix: 'teaser-' });
      const { subscription } = await paidReader(s, 'reader@example.com');
      const postId = await makePost(s.t.db.db, s.newsletter.id, s.t.clock.now(), { subject: 'Walled', slug: 'walled', body: BODY });
      await s.t.sending.startPost(postId);
      await s.t.sending.runOnce();

      const mailTo = (email: string) => smtp.messages.find((m) => m.envelope.to.includes(email))!;
      const linkIn = (email: string) => {
        const html = String(mailTo(email).parsed?.html);
        assert.match(html, /Everyone reads this teaser/);
        assert.doesNotMatch(html, /secret part/, 'the email never carries the paid part');
        assert.doesNotMatch(String(mailTo(email).parsed?.text), /secret part/);
        const href = /href="([^"]*\/archive\/walled\?access=[^"]+)"/.exec(html)?.[1];
        assert.ok(href, 'the email links to the rest on the web');
        return href.replace(/&amp;/g, '&').replace('http://gazette.test', '');
      };
      const paidLink = linkIn('reader@example.com');
      const freeLink = linkIn(free!.email);
      assert.notEqual(paidLink, freeLink, 'each reader has their own link');

      const web = s.t.agent();
      const full = await web.get(paidLink);
      assert.equal(full.statusCode, 200);
      assert.match(full.body, /secret part/);
      assert.equal(full.headers['cache-control'], 'private, no-store');
      for (const url of [freeLink, '/n/' + s.newsletter.slug + '/archive/walled', paidLink.replace(/.{4}$/, 'AAAA'), paidLink.replace('walled', 'walled') + 'x']) {
        const page = await web.get(url);
        assert.equal(page.statusCode, 200, url);
        assert.match(page.body, /Everyone reads this teaser/);
        assert.doesNotMatch(page.body, /secret part/, url);
        assert.match(page.body, /for paying subscribers/);
      }
      const feed = await web.get(`/n/${s.newsletter.slug}/feed.xml`);
      assert.match(feed.body, /Everyone reads this teaser/);
      assert.doesNotMatch(feed.body, /secret part/);

      // Paused: the same link shows only the teaser.
      const row = (await paidRow(s, subscription.id))!;
      await s.t.agent().post(`/billing/${(await access(s, 'reader@example.com'))!.token}/${row.id}/pause`, { months: '1' });
      assert.doesNotMatch((await web.get(paidLink)).body, /secret part/);
    });
  });
}
