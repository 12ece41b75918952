import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { listArchive } from '../../../src/features/posts/repository.js';
import { buildTestApp, setupOwner, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { makeNewsletter, makePost } from './factories.js';

const DAY = 86_400_000;

for (const dialect of DIALECTS) {
  describe(`public archive and feed (${dialect})`, () => {
    let t: TestApp;
    let newsletterId: number;
    beforeEach(async () => {
      t = await buildTestApp(dialect);
      newsletterId = (await makeNewsletter(t, { name: 'Weekly <Notes>', slug: 'weekly', description: 'Short notes & links.' })).id;
    });
    afterEach(() => t.close());

    it('serves a sent post with neutral merge values, meta tags, a canonical URL and a sandboxing CSP', async () => {
      await makePost(t, newsletterId, {
        slug: 'first-issue',
        subject: 'Hello {{ subscriber.name | default: "reader" }} & co',
        preheader: 'What happened this week',
        body: 'Dear {{ subscriber.name | default: "friend" }} {{ subscriber.email }}!\n\n[Unsubscribe]({{ unsubscribe_url }}) [web]({{ web_url }})\n\n![A chart](https://example.com/chart.png)\n\n<script>fetch("/admin/settings/password",{method:"POST"})</script><img src=x onerror=alert(1)>',
        status: 'sent',
        sent_at: Date.UTC(2026, 10, 20, 9),
      });
      const res = await t.agent().get('/n/weekly/archive/first-issue');
      assert.equal(res.statusCode, 200);
      const csp = String(res.headers['content-security-policy']);
      assert.match(csp, /^sandbox /);
      assert.doesNotMatch(csp, /allow-scripts|allow-same-origin/);
      assert.match(csp, /script-src 'none'/);
      assert.match(res.body, /<title>Hello reader &amp; co · Weekly &lt;Notes&gt;<\/title>/);
      assert.match(res.body, /<meta name="description" content="What happened this week">/);
      assert.match(res.body, /<link rel="canonical" href="http:\/\/gazette.test\/n\/weekly\/archive\/first-issue">/);
      assert.match(res.body, /<meta property="og:title" content="Hello reader &amp; co">/);
      assert.match(res.body, /<meta property="og:url" content="http:\/\/gazette.test\/n\/weekly\/archive\/first-issue">/);
      assert.match(res.body, /<meta property="og:image" content="https:\/\/example.com\/chart.png">/);
      assert.match(res.body, /<link rel="alternate" type="application\/rss\+xml"[^>]*href="http:\/\/gazette.test\/n\/weekly\/feed.xml">/);
      assert.match(res.body, /<time datetime="2026-11-20T09:00:00.000Z">20 November 2026<\/time>/);
      assert.match(res.body, /Dear friend !/, 'no subscriber-specific content: the default, and empty for the email');
      assert.match(res.body, /<a href="http:\/\/gazette.test\/n\/weekly">Unsubscribe<\/a>/);
      assert.match(res.body, /<a href="http:\/\/gazette.test\/n\/weekly\/archive\/first-issue">web<\/a>/);
      assert.doesNotMatch(res.body, /<script|onerror|\{\{/);
      assert.doesNotMatch(res.body, /name="robots"/);
    });

    it('404s drafts, scheduled and cancelled posts, unknown slugs, and other newsletters’ posts', async () => {
      await makePost(t, newsletterId, { slug: 'draft' });
      await makePost(t, newsletterId, { slug: 'later', status: 'scheduled', scheduled_at: t.clock.now() + DAY });
      await makePost(t, newsletterId, { slug: 'stopped', status: 'cancelled' });
      const other = await makeNewsletter(t, { slug: 'other' });
      await makePost(t, other.id, { slug: 'theirs', status: 'sent', sent_at: t.clock.now() });
      for (const url of ['/n/weekly/archive/draft', '/n/weekly/archive/later', '/n/weekly/archive/stopped', '/n/weekly/archive/nope', '/n/weekly/archive/theirs', '/n/nope/archive/theirs']) {
        const res = await t.agent().get(url);
        assert.equal(res.statusCode, 404, url);
      }
      // While it is going out, recipients already hold its "view in browser" link.
      await makePost(t, newsletterId, { slug: 'going-out', status: 'sending', started_at: t.clock.now() });
      assert.equal((await t.agent().get('/n/weekly/archive/going-out')).statusCode, 200);
    });

    it('publishes a valid RSS 2.0 feed of the latest 20 sent posts with full content', async () => {
      for (let i = 1; i <= 22; i++) {
        await makePost(t, newsletterId, {
          slug: `issue-${i}`,
          subject: `Issue ${i} <&>`,
          body: `Body of **issue ${i}** for {{ subscriber.name | default: "friend" }}. \u0001\u0008`,
          status: 'sent',
          sent_at: Date.UTC(2026, 0, i, 8),
        });
      }
      await makePost(t, newsletterId, { slug: 'draft', subject: 'Unpublished draft' });
      const res = await t.agent().get('/n/weekly/feed.xml');
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /^application\/rss\+xml; charset=utf-8/);
      assert.equal(XMLValidator.validate(res.body), true);

      const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@' }).parse(res.body);
      assert.equal(doc.rss['@version'], '2.0');
      const channel = doc.rss.channel;
      assert.equal(channel.title, 'Weekly <Notes>');
      assert.equal(channel.link, 'http://gazette.test/n/weekly');
      assert.equal(channel.description, 'Short notes & links.');
      assert.equal(channel['atom:link']['@href'], 'http://gazette.test/n/weekly/feed.xml');
      assert.equal(channel['atom:link']['@rel'], 'self');
      const items = channel.item as Array<Record<string, unknown>>;
      assert.equal(items.length, 20);
      const first = items[0] as { title: string; link: string; guid: { '#text': string; '@isPermaLink': string }; pubDate: string; description: string; 'content:encoded': string };
      assert.equal(first.title, 'Issue 22 <&>');
      assert.equal(first.link, 'http://gazette.test/n/weekly/archive/issue-22');
      assert.equal(first.guid['#text'], first.link);
      assert.equal(first.guid['@isPermaLink'], 'true');
      assert.equal(first.pubDate, 'Thu, 22 Jan 2026 08:00:00 GMT');
      assert.match(first['content:encoded'], /<p>Body of <strong>issue 22<\/strong> for friend\./);
      assert.equal((items[19] as { title: string }).title, 'Issue 3 <&>');
      assert.doesNotMatch(res.body, /Unpublished draft/);
    });

    it('has no feed for a newsletter whose archive is private, but still serves "view in browser" links', async () => {
      const hidden = await makeNewsletter(t, { slug: 'hidden', archive_public: 0 });
      await makePost(t, hidden.id, { slug: 'secret', status: 'sent', sent_at: t.clock.now() });
      assert.equal((await t.agent().get('/n/hidden/feed.xml')).statusCode, 404);
      assert.equal((await t.agent().get('/n/nope/feed.xml')).statusCode, 404);
      const page = await t.agent().get('/n/hidden/archive/secret');
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /<meta name="robots" content="noindex">/);
      assert.doesNotMatch(page.body, /feed.xml/);
    });

    it('lists the archive for the newsletter home page: sent posts only, newest first', async () => {
      await makePost(t, newsletterId, { slug: 'old', subject: 'Old', preheader: 'p1', status: 'sent', sent_at: Date.UTC(2026, 0, 1) });
      await makePost(t, newsletterId, { slug: 'new', subject: 'New', preheader: 'p2', status: 'sent', sent_at: Date.UTC(2026, 5, 1) });
      await makePost(t, newsletterId, { slug: 'going', status: 'sending' });
      await makePost(t, newsletterId, { slug: 'draft' });
      const entries = await listArchive(t.db.db, newsletterId, 10);
      assert.deepEqual(entries, [
        { slug: 'new', subject: 'New', preheader: 'p2', sent_at: Date.UTC(2026, 5, 1) },
        { slug: 'old', subject: 'Old', preheader: 'p1', sent_at: Date.UTC(2026, 0, 1) },
      ]);
      assert.equal((await listArchive(t.db.db, newsletterId, 1)).length, 1);
    });

    it('lets a signed-in writer see the archive page the same way, with the sandbox', async () => {
      const admin = await setupOwner(t);
      await makePost(t, newsletterId, { slug: 'x', status: 'sent', sent_at: t.clock.now() });
      const res = await admin.get('/n/weekly/archive/x');
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-security-policy']), /^sandbox /);
      assert.doesNotMatch(res.body, /hx-headers|x-csrf-token|_csrf/);
    });
  });
}
