import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { sql } from 'kysely';
import { pollSecondsFor } from '../../src/sending/progress.js';
import { buildTestApp, setupOwner, type Agent, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/db.js';
import { addReaders, makeNewsletter, makePost, postStatus, statusCounts, testRenderer } from './fixtures.js';

/** The writer's sending controls: the self-polling fragment, and pause/resume/cancel/retry with and without htmx. */

const HTMX = { 'hx-request': 'true' };

for (const dialect of DIALECTS) {
  describe(`sending admin (${dialect})`, () => {
    let t: TestApp;
    let agent: Agent;
    let postId: number;

    beforeEach(async () => {
      t = await buildTestApp(dialect, { renderer: testRenderer });
      agent = await setupOwner(t);
      const nl = await makeNewsletter(t.db.db, t.clock.now());
      await addReaders(t.db.db, nl.id, t.clock.now(), 5);
      postId = await makePost(t.db.db, nl.id, t.clock.now(), { subject: 'A <b>bold</b> subject' });
    });
    afterEach(() => t.close());

    it('polls a big send less often (counting its rows is linear in the audience)', async () => {
      assert.deepEqual([1, 99_999, 100_000, 499_999, 500_000, 5_000_000].map(pollSecondsFor), [2, 2, 5, 5, 10, 10]);
      await t.sending.startPost(postId);
      // 99,995 more rows beside the five readers' (no subscriber behind them: nothing here sends).
      const rows =
        dialect === 'sqlite'
          ? sql`with recursive c(i) as (select 1 union all select i + 1 from c where i < 99995) select i from c`
          : sql`select i from generate_series(1, 99995) i`;
      await sql`insert into deliveries (post_id, email, message_id, status, next_attempt_at, updated_at)
                select ${postId}, 'bulk' || i || '@example.com', '<bulk' || i || '@example.com>', 'queued', 0, 0 from (${rows}) as n`.execute(t.db.db);
      const fragment = await agent.get(`/admin/posts/${postId}/sending`, HTMX);
      assert.match(fragment.body, /<dt>Queued<\/dt><dd>100,000<\/dd>/);
      assert.match(fragment.body, /hx-trigger="every 5s"/);
    });

    it('shows a fragment that polls while sending and stops polling once sent', async () => {
      await t.sending.startPost(postId);
      const fragment = await agent.get(`/admin/posts/${postId}/sending`, HTMX);
      assert.equal(fragment.statusCode, 200);
      assert.match(fragment.body, /^<section class="card" id="sending-progress"/m);
      assert.match(fragment.body, new RegExp(`hx-get="/admin/posts/${postId}/sending" hx-trigger="every 2s" hx-swap="outerHTML"`));
      assert.doesNotMatch(fragment.body, /<html/);
      assert.match(fragment.body, /<dt>Queued<\/dt><dd>5<\/dd>/);

      const page = await agent.get(`/admin/posts/${postId}/sending`);
      assert.match(page.body, /<html/);
      assert.match(page.body, /A &lt;b&gt;bold&lt;\/b&gt; subject/);

      await t.sending.runOnce();
      const done = await agent.get(`/admin/posts/${postId}/sending`, HTMX);
      assert.doesNotMatch(done.body, /hx-trigger/);
      assert.match(done.body, /<strong>5<\/strong> of 5 sent/);
      assert.match(done.body, /Sent<\/h2>/);

      const postPage = await agent.get(`/admin/posts/${postId}`);
      assert.equal(postPage.statusCode, 200);
      assert.match(postPage.body, /id="sending-progress"/);
    });

    it('pauses and resumes without JavaScript (redirects) and with htmx (fragment)', async () => {
      await t.sending.startPost(postId);
      await agent.get(`/admin/posts/${postId}/sending`);
      const paused = await agent.post(`/admin/posts/${postId}/sending/pause`);
      assert.equal(paused.statusCode, 303);
      assert.equal(paused.headers.location, `/admin/posts/${postId}`);
      assert.equal((await postStatus(t.db.db, postId)).status, 'paused');
      await t.sending.runOnce();
      assert.deepEqual(await statusCounts(t.db.db, postId), { queued: 5 });

      const view = await agent.get(`/admin/posts/${postId}/sending`, HTMX);
      assert.match(view.body, /Paused by the writer\./);
      assert.match(view.body, /action="\/admin\/posts\/\d+\/sending\/resume"/);
      assert.match(view.body, /name="_csrf" value="[^"]+"/);
      assert.doesNotMatch(view.body, /hx-trigger/, 'a writer\'s pause changes only when the writer acts');

      const resumed = await agent.post(`/admin/posts/${postId}/sending/resume`, {}, HTMX);
      assert.equal(resumed.statusCode, 200);
      assert.match(resumed.body, /Resumed\./);
      assert.match(resumed.body, /hx-trigger="every 2s"/);
      await t.sending.runOnce();
      assert.deepEqual(await statusCounts(t.db.db, postId), { sent: 5 });
    });

    it('cancels, and refuses what the state does not allow (409 page, or the fragment with the reason)', async () => {
      await t.sending.startPost(postId);
      await agent.get(`/admin/posts/${postId}/sending`);
      const cancelled = await agent.post(`/admin/posts/${postId}/sending/cancel`, {}, HTMX);
      assert.equal(cancelled.statusCode, 200);
      assert.match(cancelled.body, /Cancelled\./);
      assert.deepEqual(await statusCounts(t.db.db, postId), { cancelled: 5 });

      const again = await agent.post(`/admin/posts/${postId}/sending/pause`, {}, HTMX);
      assert.equal(again.statusCode, 200);
      assert.match(again.body, /class="alert error" role="alert">This post is cancelled/);
      const plain = await agent.post(`/admin/posts/${postId}/sending/resume`);
      assert.equal(plain.statusCode, 409);
    });

    it('retries unknown recipients with the same Message-ID from the form', async () => {
      await t.sending.startPost(postId);
      await t.sending.runOnce();
      const row = await t.db.db.selectFrom('deliveries').selectAll().where('post_id', '=', postId).orderBy('id').executeTakeFirstOrThrow();
      await t.db.db.updateTable('deliveries').set({ status: 'unknown', error: 'connection lost after DATA' }).where('id', '=', row.id).execute();
      const view = await agent.get(`/admin/posts/${postId}/sending`, HTMX);
      assert.match(view.body, /Retry these 1 unknown/);
      assert.match(view.body, new RegExp(row.message_id.replace(/[<>]/g, (c) => (c === '<' ? '&lt;' : '&gt;'))));

      const bad = await agent.post(`/admin/posts/${postId}/sending/retry`, { statuses: 'sent' });
      assert.equal(bad.statusCode, 422);
      const retried = await agent.post(`/admin/posts/${postId}/sending/retry`, { statuses: 'unknown' });
      assert.equal(retried.statusCode, 303);
      const after = await t.db.db.selectFrom('deliveries').selectAll().where('id', '=', row.id).executeTakeFirstOrThrow();
      assert.equal(after.status, 'queued');
      assert.equal(after.message_id, row.message_id);
      await t.sending.runOnce();
      assert.deepEqual(await statusCounts(t.db.db, postId), { sent: 5 });
      const copies = await t.db.db.selectFrom('dev_outbox').select('message_id').where('message_id', '=', row.message_id).execute();
      assert.equal(copies.length, 2, 'the retried copy carries the same Message-ID');
    });

    it('needs a session, a CSRF token and an existing post', async () => {
      await t.sending.startPost(postId);
      const anonymous = await t.agent().get(`/admin/posts/${postId}/sending`);
      assert.equal(anonymous.statusCode, 303);
      const noToken = await agent.post(`/admin/posts/${postId}/sending/pause`, { _csrf: 'nope' });
      assert.equal(noToken.statusCode, 403);
      assert.equal((await postStatus(t.db.db, postId)).status, 'sending');
      assert.equal((await agent.get('/admin/posts/999999/sending')).statusCode, 404);
      assert.equal((await agent.get('/admin/posts/abc/sending')).statusCode, 404);
    });
  });
}
