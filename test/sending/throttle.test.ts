import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { buildTestApp, setupOwner, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/db.js';
import { reply, startSmtpServer, type TestSmtpServer } from '../helpers/smtp-server.js';
import { addReaders, deliveries, makeNewsletter, makePost, postStatus, statusCounts, testRenderer } from './fixtures.js';

/**
 * A relay with a quota, for real: the test SMTP server answers MAIL FROM with "454 … rate exceeded" beyond
 * 10 messages a second, as Amazon SES does beyond an account's sending rate. The send slows down by itself, every
 * recipient gets the post exactly once, no recipient is failed or charged an attempt for the relay's
 * quota, and the post page tells the writer what the relay allows.
 */

for (const dialect of DIALECTS) {
  describe(`sending to a throttling relay (${dialect})`, () => {
    const cleanups: Array<() => Promise<void>> = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c();
    });

    async function setup(readers: number) {
      const smtp: TestSmtpServer = await startSmtpServer();
      cleanups.push(() => smtp.close());
      const t: TestApp = await buildTestApp(dialect, { env: { SMTP_URL: smtp.url, SMTP_POOL_SIZE: '3' }, renderer: testRenderer });
      cleanups.push(() => t.close());
      const nl = await makeNewsletter(t.db.db, t.clock.now());
      const list = await addReaders(t.db.db, nl.id, t.clock.now(), readers);
      const postId = await makePost(t.db.db, nl.id, t.clock.now());
      return { smtp, t, readers: list, postId };
    }

    it('retries rate answers uncounted, delivers each recipient once, and shows the allowed rate', async () => {
      const { smtp, t, readers, postId } = await setup(12);
      // The quota: 10 messages a second across connections, no burst (the relay's clock is the wall's, as
      // a real relay's is). Three connections and their pipelined envelopes go faster than that at once.
      let tokens = 1;
      let last = performance.now();
      let rateAnswers = 0;
      smtp.respond.onMailFrom = () => {
        const now = performance.now();
        tokens = Math.min(1, tokens + (now - last) / 100);
        last = now;
        if (tokens >= 1) {
          tokens -= 1;
          return undefined;
        }
        rateAnswers += 1;
        return reply(454, '4.7.0 Throttling failure: Maximum sending rate exceeded');
      };
      let release!: () => void;
      let arrive!: () => void;
      const held = new Promise<void>((r) => (release = r));
      const arrived = new Promise<void>((r) => (arrive = r));
      smtp.respond.onData = async () => {
        if (smtp.messages.length === readers.length - 1) {
          arrive();
          await held;
        }
        return undefined;
      };
      const agent = await setupOwner(t);
      await t.sending.startPost(postId);
      const run = t.sending.runOnce();
      await arrived;
      const page = await agent.get(`/admin/posts/${postId}`);
      const shown = /it allows about <strong>([\d.,]+) per second<\/strong>/.exec(page.body);
      assert.ok(shown, 'the post page shows the rate the relay allows');
      assert.ok(Number(shown[1]!.replace(/,/g, '')) > 0);
      const progress = await t.sending.progress(postId);
      assert.ok(progress.relayLimit !== null && progress.relayLimit > 0, JSON.stringify(progress.relayLimit));
      release();
      await run;

      assert.ok(rateAnswers > 0, 'the relay gave rate answers');
      assert.equal((await postStatus(t.db.db, postId)).status, 'sent');
      assert.deepEqual(await statusCounts(t.db.db, postId), { sent: readers.length });
      // One attempt each: the delivery; the rate answers before it were not charged to the recipient.
      for (const row of await deliveries(t.db.db, postId)) assert.equal(row.attempts, 1, `${row.email} was charged for the relay's quota`);
      for (const r of readers) assert.equal(smtp.messages.filter((m) => m.envelope.to.includes(r.email)).length, 1, r.email);
      // Sent, the post says nothing more about the relay.
      assert.equal((await t.sending.progress(postId)).relayLimit, null);
    });

    it('pauses as relay trouble when the relay refuses everything with rate answers', async () => {
      const { smtp, t, postId } = await setup(5);
      smtp.respond.onMailFrom = () => reply(451, '4.7.0 rate exceeded, daily quota used up');
      await t.sending.startPost(postId);
      await t.sending.runOnce();
      const post = await postStatus(t.db.db, postId);
      assert.equal(post.status, 'paused');
      assert.match(post.paused_reason ?? '', /rate exceeded/);
      assert.ok(post.resume_at);
      const rows = await deliveries(t.db.db, postId);
      assert.deepEqual(new Set(rows.map((r) => r.status)), new Set(['queued']));
      assert.ok(rows.every((r) => r.attempts === 0), 'no recipient is charged for the relay refusing');
    });
  });
}
