import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/db.js';
import { addReaders, deliveries, makeNewsletter, makePost, postStatus, statusCounts, testRenderer, type Reader } from './fixtures.js';
import { startRawRelay, type RawRelay } from './raw-relay.js';

/**
 * What the engine records when a relay connection is lost while a message is being handed over: a
 * message whose final dot never went out cannot have been delivered and is retried; one whose dot went
 * out with no answer may have been, and is `unknown` until the writer decides. A raw relay on loopback
 * cuts the connection mid-message (a TCP reset) or hangs up after the dot; messages are pipelined, so
 * the next message's envelope is always on the same connection when it goes.
 */

const MINUTE = 60_000;
const OPTIONS = { retryBaseMs: MINUTE, retryMaxMs: 60 * MINUTE, maxAttempts: 4 };

for (const dialect of DIALECTS) {
  describe(`a connection lost during DATA (${dialect})`, () => {
    const cleanups: Array<() => Promise<void>> = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c();
    });

    async function setup(readerCount: number, body?: string): Promise<{ t: TestApp; relay: RawRelay; readers: Reader[]; postId: number }> {
      const relay = await startRawRelay();
      cleanups.push(() => relay.close());
      const t = await buildTestApp(dialect, { env: { SMTP_URL: relay.url, SMTP_POOL_SIZE: '1' }, renderer: testRenderer, sending: { options: OPTIONS } });
      cleanups.push(() => t.close());
      const nl = await makeNewsletter(t.db.db, t.clock.now());
      const readers = await addReaders(t.db.db, nl.id, t.clock.now(), readerCount);
      const postId = await makePost(t.db.db, nl.id, t.clock.now(), body === undefined ? {} : { body });
      return { t, relay, readers, postId };
    }
    const received = (relay: RawRelay, email: string) => relay.accepted.filter((m) => m.to === email).length;

    it('requeues a message cut before its final dot (retry, not unknown) and delivers it once later', async () => {
      // Bigger than the socket buffers of both ends: the cut comes long before the final dot is written.
      const { t, relay, readers, postId } = await setup(3, `${'x'.repeat(998)}\n`.repeat(4 * 1024));
      const target = readers[1]!.email;
      let cuts = 0;
      relay.onBody = (to) => (to === target && cuts++ === 0 ? 'reset' : undefined);
      await t.sending.startPost(postId);
      await t.sending.runOnce();

      assert.equal(cuts, 1);
      assert.equal(relay.cut[0]?.at, 'body');
      let row = (await deliveries(t.db.db, postId)).find((d) => d.email === target)!;
      assert.equal(row.status, 'retry');
      assert.equal(row.attempts, 1);
      assert.equal(row.next_attempt_at, t.clock.now() + MINUTE);
      assert.match(row.error ?? '', /ECONNECTION|reset|closed/i);
      assert.deepEqual(await statusCounts(t.db.db, postId), { sent: 2, retry: 1 });
      assert.equal((await t.sending.progress(postId)).unknown, 0);

      t.clock.advance(MINUTE);
      await t.sending.runOnce();
      row = (await deliveries(t.db.db, postId)).find((d) => d.email === target)!;
      assert.equal(row.status, 'sent');
      assert.deepEqual(await statusCounts(t.db.db, postId), { sent: 3 });
      for (const r of readers) assert.equal(received(relay, r.email), 1, r.email);
      assert.equal((await postStatus(t.db.db, postId)).status, 'sent');
    });

    it('marks a message unknown when the relay hangs up after its final dot, and sends the pipelined next one once', async () => {
      const { t, relay, readers, postId } = await setup(3);
      const target = readers[0]!.email;
      let drops = 0;
      relay.onMessage = (to) => (to === target && drops++ === 0 ? 'drop' : undefined);
      await t.sending.startPost(postId);
      await t.sending.runOnce();

      assert.deepEqual(relay.cut.map((c) => [c.to, c.at]), [[target, 'end']]);
      const rows = await deliveries(t.db.db, postId);
      assert.equal(rows.find((d) => d.email === target)!.status, 'unknown');
      assert.deepEqual(await statusCounts(t.db.db, postId), { sent: 2, unknown: 1 });
      assert.equal(received(relay, target), 0);
      for (const r of readers.slice(1)) assert.equal(received(relay, r.email), 1, r.email);
      t.clock.advance(24 * 60 * MINUTE);
      await t.sending.runOnce();
      assert.equal(relay.cut.length + relay.accepted.length, 3, 'the unknown one is never re-sent by itself');
    });
  });
}
