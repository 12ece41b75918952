import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { buildTestApp, setupOwner, type Agent, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { addReaders, makeNewsletter, makePost, testRenderer } from '../../sending/fixtures.js';

/**
 * The post page a writer works from: the test send comes before the real one, and the self-polling
 * progress fragment reloads the page once the send it showed has moved on (so "Sending" and its
 * buttons do not outlive the send).
 */

const HTMX = { 'hx-request': 'true' };

for (const dialect of DIALECTS) {
  describe(`post page (${dialect})`, () => {
    let t: TestApp;
    let agent: Agent;
    let postId: number;

    beforeEach(async () => {
      t = await buildTestApp(dialect, { renderer: testRenderer });
      agent = await setupOwner(t);
      const nl = await makeNewsletter(t.db.db, t.clock.now(), { time_zone: 'Europe/Paris' });
      await addReaders(t.db.db, nl.id, t.clock.now(), 3);
      postId = await makePost(t.db.db, nl.id, t.clock.now(), { subject: 'Spring notes' });
    });
    afterEach(() => t.close());

    it('offers "Send a test" before "Send now"', async () => {
      const page = await agent.get(`/admin/posts/${postId}`);
      assert.equal(page.statusCode, 200);
      const test = page.body.indexOf('<h2 id="test-heading">Send a test</h2>');
      const sendNow = page.body.indexOf('>Send now…</a>');
      assert.ok(test > 0 && sendNow > 0, 'both are offered');
      assert.ok(test < sendNow, 'the test send comes first');
    });

    it('tells the polling page to reload once the send it showed has finished', async () => {
      await t.sending.startPost(postId);
      const live = await agent.get(`/admin/posts/${postId}`);
      // The fragment reports the status it shows with every poll.
      assert.match(live.body, /hx-get="\/admin\/posts\/\d+\/sending" hx-trigger="every 2s" hx-swap="outerHTML" hx-vals='\{"shown": "sending"\}'/);
      assert.match(live.body, /status-sending/);

      const still = await agent.get(`/admin/posts/${postId}/sending?shown=sending`, HTMX);
      assert.equal(still.statusCode, 200);
      assert.equal(still.headers['hx-refresh'], undefined, 'nothing changed: just the fragment');

      await t.sending.runOnce();
      const done = await agent.get(`/admin/posts/${postId}/sending?shown=sending`, HTMX);
      assert.equal(done.statusCode, 200);
      assert.equal(done.headers['hx-refresh'], 'true');
      assert.match(done.body, /Sent<\/h2>/);
      assert.doesNotMatch(done.body, /hx-trigger/);

      // The reloaded page shows the finished send, with its times in the newsletter's zone.
      const page = await agent.get(`/admin/posts/${postId}`);
      assert.match(page.body, /status-sent/);
      assert.doesNotMatch(page.body, /status-sending/);
      assert.match(page.body, /Started Sun, 22 Nov 2026, 13:00 \(Europe\/Paris\), finished Sun, 22 Nov 2026, 13:00 \(Europe\/Paris\)\./);

      // A poll without the status it showed (an older page), or a plain request, gets no reload.
      assert.equal((await agent.get(`/admin/posts/${postId}/sending`, HTMX)).headers['hx-refresh'], undefined);
      assert.equal((await agent.get(`/admin/posts/${postId}/sending?shown=sending`)).headers['hx-refresh'], undefined);
    });

    it('reloads when a poll sees the send paused under it', async () => {
      await t.sending.startPost(postId);
      await agent.get(`/admin/posts/${postId}`);
      assert.equal((await agent.post(`/admin/posts/${postId}/sending/pause`)).statusCode, 303);
      const res = await agent.get(`/admin/posts/${postId}/sending?shown=sending`, HTMX);
      assert.equal(res.headers['hx-refresh'], 'true');
      assert.match(res.body, /Paused<\/h2>/);
    });
  });
}
