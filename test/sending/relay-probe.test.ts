import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { DEFAULT_ENGINE_OPTIONS } from '../../src/sending/options.js';
import { buildTestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/db.js';
import { startSmtpServer } from '../helpers/smtp-server.js';
import { addReaders, makeNewsletter, makePost, postStatus, statusCounts, testRenderer } from './fixtures.js';
import { startRelayProxy } from './relay-proxy.js';

/**
 * How soon a send paused by a relay outage notices that the relay is back, with the engine's default
 * probe schedule. The FakeClock moves one poll interval at a time, as the background loop wakes, and
 * each step runs one pass; the relay refuses connections (its port is closed) until it comes back.
 */

const SECOND = 1000;

for (const dialect of DIALECTS) {
  describe(`relay outage probes (${dialect})`, () => {
    const cleanups: Array<() => Promise<void>> = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c();
    });

    it('probes at 5, 15, 35 and 75 s, so an outage that ends after 60 s is over for the send by 75 s', async () => {
      const smtp = await startSmtpServer();
      cleanups.push(() => smtp.close());
      const proxy = await startRelayProxy(smtp.port);
      cleanups.push(() => proxy.close());
      await proxy.down();
      const t = await buildTestApp(dialect, { env: { SMTP_URL: proxy.url, SMTP_POOL_SIZE: '2' }, renderer: testRenderer });
      cleanups.push(() => t.close());
      const nl = await makeNewsletter(t.db.db, t.clock.now());
      await addReaders(t.db.db, nl.id, t.clock.now(), 4);
      const postId = await makePost(t.db.db, nl.id, t.clock.now());

      await t.sending.startPost(postId);
      await t.sending.runOnce();
      const pausedAt = t.clock.now();
      let post = await postStatus(t.db.db, postId);
      assert.equal(post.status, 'paused');
      assert.match(post.paused_reason ?? '', /ECONNREFUSED/);

      // Each failed probe sets the next one's time: collect them, relative to the pause.
      const probes: number[] = [post.resume_at! - pausedAt];
      let resumedAfter: number | undefined;
      for (let elapsed = 0; elapsed < 200 * SECOND && resumedAfter === undefined; ) {
        t.clock.advance(DEFAULT_ENGINE_OPTIONS.pollIntervalMs);
        elapsed += DEFAULT_ENGINE_OPTIONS.pollIntervalMs;
        if (elapsed === 61 * SECOND) await proxy.up();
        await t.sending.runOnce();
        post = await postStatus(t.db.db, postId);
        if (post.status !== 'paused') resumedAfter = elapsed;
        else if (post.resume_at! - pausedAt !== probes.at(-1)) probes.push(post.resume_at! - pausedAt);
      }

      assert.deepEqual(probes, [5, 15, 35, 75].map((s) => s * SECOND), 'probe times after the pause');
      assert.equal(resumedAfter, 75 * SECOND, 'resumed at the first probe after the relay came back');
      assert.deepEqual(await statusCounts(t.db.db, postId), { sent: 4 });
      assert.equal((await postStatus(t.db.db, postId)).status, 'sent');
      assert.equal(smtp.messages.length, 4);
    });

    it('keeps probing at most a minute apart during a long outage', async () => {
      // Never up: the port behind it is never reached.
      const proxy = await startRelayProxy(1);
      cleanups.push(() => proxy.close());
      await proxy.down();
      const t = await buildTestApp(dialect, { env: { SMTP_URL: proxy.url, SMTP_POOL_SIZE: '1' }, renderer: testRenderer });
      cleanups.push(() => t.close());
      const nl = await makeNewsletter(t.db.db, t.clock.now());
      await addReaders(t.db.db, nl.id, t.clock.now(), 1);
      const postId = await makePost(t.db.db, nl.id, t.clock.now());
      await t.sending.startPost(postId);
      await t.sending.runOnce();

      const waits: number[] = [];
      for (let i = 0; i < 7; i++) {
        const { resume_at } = await postStatus(t.db.db, postId);
        waits.push(resume_at! - t.clock.now());
        t.clock.set(resume_at!);
        await t.sending.runOnce();
      }
      assert.deepEqual(waits, [5, 10, 20, 40, 60, 60, 60].map((s) => s * SECOND));
      assert.equal((await postStatus(t.db.db, postId)).status, 'paused');
      assert.deepEqual(await statusCounts(t.db.db, postId), { queued: 1 });
    });
  });
}
