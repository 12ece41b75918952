import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { SETTLE_MS } from '../../../src/features/webhooks/fanout.js';
import { setupOwner, type Agent } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { hit, hits, trackingPaths, trackingWorld, type TrackingWorld } from '../tracking/setup.js';
import { startReceiver } from './receiver.js';

const BOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';

interface Body {
  type: string;
  timestamp: string;
  data: { subscriber?: { id: number; email: string } | null; post: { id: number } | null; url?: string; opens?: number; clicks?: number; period_start?: string };
}

for (const dialect of DIALECTS) {
  describe(`opened and clicked webhooks (${dialect})`, () => {
    let w: TrackingWorld | undefined;
    let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined;
    afterEach(async () => {
      await receiver?.close();
      await w?.t.close();
    });

    async function setUp(mode: 'subscriber' | 'aggregate', types: string[], o: { consenting?: number } = {}) {
      receiver = await startReceiver();
      // The endpoint exists before the post goes out, as a writer's would.
      w = await trackingWorld(dialect, mode, { readers: 3, ...o, env: { WEBHOOKS_ALLOW_PRIVATE: 'true' } });
      const admin: Agent = await setupOwner(w.t);
      await admin.get('/admin/webhooks');
      const res = await admin.post('/admin/webhooks', { url: receiver.url, description: 'CRM', event_types: types });
      assert.equal(res.statusCode, 201, res.body.slice(0, 300));
      w.t.clock.advance(5 * 60_000);
      return { w, receiver };
    }

    const bodies = () => receiver!.received.map((r) => JSON.parse(r.body) as Body);
    const pass = async () => {
      await w!.t.app.hitRecorder.flush(true);
      w!.t.clock.advance(SETTLE_MS + 1);
      assert.equal((await w!.t.jobs.runOnce('webhooks')).outcome, 'ok');
    };

    it('per subscriber: a consenting reader’s first open and first click of each link, once; machines and repeats never', async () => {
      const { w } = await setUp('subscriber', ['post.opened', 'post.clicked'], { consenting: 1 });
      const [ana, bo] = w.readers;
      const mine = trackingPaths(w.html.get(ana!.email)!);
      const theirs = trackingPaths(w.html.get(bo!.email)!);
      await hit(w.t, mine.pixel);
      await hit(w.t, mine.pixel, { ip: '198.51.100.9' });
      await hit(w.t, mine.clicks[0]!);
      w.t.clock.advance(60_000);
      await hit(w.t, mine.clicks[0]!);
      // Clicks on several links within a second or two are a scanner's burst: a reader takes longer.
      w.t.clock.advance(60_000);
      await hit(w.t, mine.clicks[1]!);
      await hit(w.t, theirs.pixel, { ip: '198.51.100.8' });
      w.t.clock.advance(60_000);
      await hit(w.t, mine.clicks[2]!, { ua: BOT });
      const recorded = await hits(w.t);
      assert.equal(recorded.length, 7, 'every hit is recorded for the stats');
      await pass();

      const got = bodies();
      assert.deepEqual(got.map((b) => [b.type, b.data.subscriber?.email, b.data.url ?? null]), [
        ['post.opened', ana!.email, null],
        ['post.clicked', ana!.email, 'https://example.org/report?a=1&b=2'],
        ['post.clicked', ana!.email, 'https://example.org/notes'],
      ]);
      assert.ok(got.every((b) => b.data.post?.id === w.postId));
      await pass();
      assert.equal(receiver!.received.length, 3, 'reading the hits again owes nothing new');
      await hit(w.t, mine.pixel);
      await pass();
      assert.equal(receiver!.received.length, 3, 'a later open of the same reader is not a first');
    });

    it('aggregate: one summary per post and hour once the hour is over, naming nobody', async () => {
      const { w } = await setUp('aggregate', ['post.engagement', 'post.opened']);
      const paths = w.readers.map((r) => trackingPaths(w.html.get(r.email)!));
      await hit(w.t, paths[0]!.pixel);
      await hit(w.t, paths[1]!.pixel, { ip: '198.51.100.8' });
      await hit(w.t, paths[0]!.clicks[0]!);
      await hit(w.t, paths[2]!.pixel, { ua: BOT, ip: '198.51.100.10' });
      await pass();
      assert.equal(receiver!.received.length, 0, 'the hour is not over yet, and aggregate mode names no reader');

      w.t.clock.advance(3_600_000);
      await pass();
      const got = bodies();
      assert.equal(got.length, 1);
      assert.equal(got[0]!.type, 'post.engagement');
      assert.deepEqual([got[0]!.data.opens, got[0]!.data.clicks], [2, 1], 'people only: the bot is left out');
      assert.equal(got[0]!.data.subscriber, undefined);
      assert.equal(Date.parse(got[0]!.data.period_start!) % 3_600_000, 0);
      w.t.clock.advance(3_600_000);
      await pass();
      assert.equal(receiver!.received.length, 1, 'an hour is summed once');
    });
  });
}
