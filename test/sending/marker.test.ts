import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestDb, DIALECTS, type TestDb } from '../helpers/db.js';
import { claimRows, markAttempting, recordSentAndMark } from '../../src/sending/delivery-transitions.js';
import { addReaders, deliveries, makeNewsletter, makePost } from './fixtures.js';

/**
 * The write-ahead marker checks the post as well as the recipient: on Postgres a claim can commit just
 * after a pause released the post's claims (the claim read the post while it was still sending), and
 * rows of that claim must not go out while the post is paused.
 */
for (const dialect of DIALECTS) {
  describe(`the attempting marker and the post's state (${dialect})`, () => {
    let t: TestDb;
    let postId: number;
    let newsletterId: number;
    const now = Date.UTC(2026, 10, 23, 12, 0, 0);

    before(async () => {
      t = await createTestDb(dialect);
      newsletterId = (await makeNewsletter(t.db, now)).id;
      const readers = await addReaders(t.db, newsletterId, now, 6);
      postId = await makePost(t.db, newsletterId, now, { status: 'sending', started_at: now } as never);
      await t.db
        .insertInto('deliveries')
        .values(readers.map((r, i) => ({ post_id: postId, subscriber_id: r.id, email: r.email, message_id: `<m${i}@example.com>`, status: 'queued', next_attempt_at: 0, updated_at: now })))
        .execute();
    });
    after(() => t.drop());

    const setPost = (status: string) => t.db.updateTable('posts').set({ status } as never).where('id', '=', postId).execute();
    const claim = async (limit: number) =>
      (await t.db.transaction().execute((trx) => claimRows(trx, dialect, { postId, newsletterId, owner: 'sender-a', now, limit }))).claimed.map((r) => r.id);

    it('marks nothing of a paused post and puts its claimed rows back in the queue', async () => {
      const ids = await claim(3);
      assert.equal(ids.length, 3);
      await setPost('paused');
      const marked = await t.db.transaction().execute((trx) => markAttempting(trx, dialect, ids, 'sender-a', now + 1));
      assert.deepEqual([...marked], []);
      const rows = (await deliveries(t.db, postId)).filter((d) => ids.includes(d.id));
      assert.deepEqual(rows.map((d) => [d.status, d.claimed_by]), ids.map(() => ['queued', null]));
    });

    it('marks them once the post is sending again', async () => {
      await setPost('sending');
      const ids = await claim(3);
      const marked = await t.db.transaction().execute((trx) => markAttempting(trx, dialect, ids, 'sender-a', now + 2));
      assert.deepEqual([...marked].sort(), [...ids].sort());
      const rows = (await deliveries(t.db, postId)).filter((d) => ids.includes(d.id));
      assert.ok(rows.every((d) => d.status === 'attempting'));
    });

    if (dialect === 'postgres') {
      it("holds on Postgres' one-statement tick too: successes recorded, nothing of the paused post marked", async () => {
        const attempting = (await deliveries(t.db, postId)).filter((d) => d.status === 'attempting').map((d) => d.id);
        const ids = await claim(3);
        assert.equal(ids.length, 3);
        await setPost('paused');
        const marked = await recordSentAndMark(t.db, attempting.map((id) => ({ id, response: '250 ok' })), ids, 'sender-a', now + 3);
        assert.deepEqual([...marked], []);
        const rows = await deliveries(t.db, postId);
        assert.deepEqual(rows.filter((d) => attempting.includes(d.id)).map((d) => d.status), attempting.map(() => 'sent'));
        assert.deepEqual(rows.filter((d) => ids.includes(d.id)).map((d) => d.status), ids.map(() => 'queued'));
      });
    }
  });
}
