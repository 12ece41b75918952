import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { recordEvent } from '../../../src/domain/events.js';
import { setupOwner } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { subscribeViaForm } from '../readers/helpers.js';
import { hit, trackingPaths, worldsOf, type TrackingWorld } from '../tracking/setup.js';

const HOUR = 3_600_000;

/**
 * Roll-ups driven by the stats job on the FakeClock, and the pages that read them: the post's stats and
 * CSV, the dashboard's growth chart and latest posts, a reader's activity, and consent from the forms.
 */
for (const dialect of DIALECTS) {
  describe(`stats roll-ups and pages (${dialect})`, () => {
    const world = worldsOf(dialect);
    const rollUp = async (w: TrackingWorld) => {
      await w.t.app.hitRecorder.flush(true);
      const result = await w.t.jobs.runOnce('stats-rollups');
      assert.equal(result.outcome, 'ok');
    };

    it('rolls up per post, hour and link on the job, and picks up later hits at the next run', async () => {
      const w = await world('subscriber', { readers: 4, consenting: 2 });
      const [a, b, c] = w.readers.map((r) => trackingPaths(w.html.get(r.email)!));
      w.t.clock.advance(10 * 60_000);
      await hit(w.t, a!.pixel);
      await hit(w.t, a!.clicks[0]!);
      await hit(w.t, c!.pixel, { ip: '198.51.100.30' });
      await hit(w.t, b!.pixel, { ua: 'Mozilla/5.0' });
      await rollUp(w);

      const stats = await w.t.db.db.selectFrom('post_stats').selectAll().where('post_id', '=', w.postId).executeTakeFirstOrThrow();
      assert.deepEqual(
        [stats.recipients, stats.delivered, stats.human_opens, stats.machine_opens, stats.human_clicks, stats.unique_openers, stats.unique_clickers].map(Number),
        [4, 4, 2, 1, 1, 1, 1],
      );
      const hours = await w.t.db.db.selectFrom('post_hour_stats').selectAll().where('post_id', '=', w.postId).orderBy('kind').orderBy('verdict').execute();
      assert.deepEqual(hours.map((h) => [h.kind, h.verdict, Number(h.hits)]), [
        ['click', 'human', 1],
        ['open', 'apple_mpp', 1],
        ['open', 'human', 2],
      ]);
      const links = await w.t.db.db.selectFrom('link_stats').selectAll().where('post_id', '=', w.postId).orderBy('link_id').execute();
      assert.deepEqual(links.map((l) => Number(l.human_clicks)), [1, 0, 0]);

      // Two hours later, another open: the next run adds it in its own hour.
      w.t.clock.advance(2 * HOUR);
      await hit(w.t, b!.pixel);
      await rollUp(w);
      const after = await w.t.db.db.selectFrom('post_hour_stats').select(['hour', 'hits']).where('post_id', '=', w.postId).where('verdict', '=', 'human').where('kind', '=', 'open').orderBy('hour').execute();
      assert.equal(after.length, 2);
      assert.equal(Number(after[1]!.hour) - Number(after[0]!.hour), 2 * HOUR);
      const again = await w.t.db.db.selectFrom('post_stats').select(['human_opens', 'unique_openers']).where('post_id', '=', w.postId).executeTakeFirstOrThrow();
      assert.deepEqual([Number(again.human_opens), Number(again.unique_openers)], [3, 2]);

      // A year on, the reader's own hits are anonymous; the counts stay.
      w.t.clock.advance(366 * 24 * HOUR);
      await rollUp(w);
      const personal = await w.t.db.db.selectFrom('tracking_hits').select('id').where('subscriber_id', 'is not', null).execute();
      assert.equal(personal.length, 0);
      assert.equal((await w.t.db.db.selectFrom('tracking_hits').select('id').execute()).length, 5);
    });

    it('counts unsubscribes after the post and bounces and complaints by post, and daily growth', async () => {
      const w = await world('aggregate', { readers: 3 });
      const [r1, r2] = w.readers;
      const db = w.t.db.db;
      w.t.clock.advance(HOUR);
      await recordEvent(db, { type: 'unsubscribed', at: w.t.clock.now(), subscriberId: r1!.id, newsletterId: w.newsletterId });
      await recordEvent(db, { type: 'complained', at: w.t.clock.now(), subscriberId: r2!.id, newsletterId: w.newsletterId, postId: w.postId });
      await recordEvent(db, { type: 'subscribed', at: w.t.clock.now(), subscriberId: r2!.id, newsletterId: w.newsletterId, data: { status: 'active' } });
      await recordEvent(db, { type: 'subscribed', at: w.t.clock.now(), subscriberId: r2!.id, newsletterId: w.newsletterId, data: { status: 'pending' } });
      await rollUp(w);
      const s = await db.selectFrom('post_stats').selectAll().where('post_id', '=', w.postId).executeTakeFirstOrThrow();
      assert.deepEqual([Number(s.unsubscribed), Number(s.complained), Number(s.bounced)], [1, 1, 0]);
      const days = await db.selectFrom('newsletter_day_stats').selectAll().where('newsletter_id', '=', w.newsletterId).execute();
      assert.deepEqual(days.map((d) => [Number(d.subscribed), Number(d.unsubscribed), Number(d.complained)]), [[1, 1, 1]]);
    });

    it('renders the post stats page with accessible charts, and its CSV', async () => {
      const w = await world('aggregate', { readers: 2 });
      const { clicks, pixel } = trackingPaths([...w.html.values()][0]!);
      w.t.clock.advance(30 * 60_000);
      await hit(w.t, pixel);
      await hit(w.t, clicks[1]!);
      w.t.clock.advance(5 * HOUR);
      await hit(w.t, pixel, { ua: 'Mozilla/5.0' });
      await rollUp(w);
      const agent = await setupOwner(w.t);

      const page = await agent.get(`/admin/posts/${w.postId}/stats`);
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /<svg[^>]+role="img"[^>]+aria-labelledby="opens-\d+-title opens-\d+-desc"/);
      assert.match(page.body, /<title id="opens-\d+-title">Opens in the first 72 hours<\/title>/);
      const opensSvg = /<svg[^>]*aria-labelledby="opens[\s\S]*?<\/svg>/.exec(page.body)![0];
      assert.equal((opensSvg.match(/<rect /g) ?? []).length, 2, 'one bar for the human open, one for the machine open');
      assert.match(page.body, /<th scope="row">\+0 h<\/th><td class="num">1<\/td><td class="num">0<\/td>/);
      assert.match(page.body, /<th scope="row">\+5 h<\/th><td class="num">0<\/td><td class="num">1<\/td>/);
      assert.match(page.body, /https:\/\/example\.org\/notes/);
      assert.match(page.body, /Apple Mail Privacy Protection loads every image/);

      const csv = await agent.get(`/admin/posts/${w.postId}/stats.csv`);
      assert.equal(csv.statusCode, 200);
      assert.match(String(csv.headers['content-type']), /text\/csv/);
      assert.match(csv.body, /summary,Recipients,2\r\n/);
      assert.match(csv.body, /link human clicks,https:\/\/example\.org\/notes,1\r\n/);
      assert.match(csv.body, /machine opens,apple_mpp,1\r\n/);

      assert.equal((await agent.get('/admin/posts/999999/stats')).statusCode, 404);
      assert.equal((await agent.get('/admin/posts/999999/stats.csv')).statusCode, 404);
      const post = await agent.get(`/admin/posts/${w.postId}`);
      assert.match(post.body, new RegExp(`href="/admin/posts/${w.postId}/stats"`));
    });

    it('shows growth and the latest posts on the dashboard, and a consenting reader’s activity', async () => {
      const w = await world('subscriber', { readers: 2, consenting: 1 });
      const [reader] = w.readers;
      w.t.clock.advance(10 * 60_000);
      await hit(w.t, trackingPaths(w.html.get(reader!.email)!).pixel);
      await recordEvent(w.t.db.db, { type: 'confirmed', at: w.t.clock.now(), subscriberId: reader!.id, newsletterId: w.newsletterId });
      await rollUp(w);
      const agent = await setupOwner(w.t);
      const dash = await agent.get(`/admin?newsletter=${w.newsletterId}`);
      assert.equal(dash.statusCode, 200);
      assert.match(dash.body, /<title id="growth-\d+-title">Subscribers over the last 30 days<\/title>/);
      assert.match(dash.body, new RegExp(`href="/admin/posts/${w.postId}/stats"`));
      assert.match(dash.body, /<td class="num">50\.0%<\/td>/, 'one human open of two delivered');
      assert.equal((await agent.get('/admin?newsletter=zzz')).statusCode, 200);

      const activity = await agent.get(`/admin/subscribers/${reader!.id}/activity`);
      assert.equal(activity.statusCode, 200);
      assert.match(activity.body, /Opened/);
      const other = await agent.get(`/admin/subscribers/${w.readers[1]!.id}/activity`);
      assert.match(other.body, /None recorded/);
      assert.equal((await agent.get('/admin/subscribers/999999/activity')).statusCode, 404);
    });

    it('records consent from the subscribe form and the preferences page, and withdraws it there', async () => {
      const w = await world('subscriber', { readers: 1 });
      const nl = await w.t.db.db.selectFrom('newsletters').select('slug').where('id', '=', w.newsletterId).executeTakeFirstOrThrow();
      const home = await w.t.agent().get(`/n/${nl.slug}`);
      assert.match(home.body, /name="tracking_consent"/);
      assert.doesNotMatch(home.body, /name="tracking_consent"[^>]*checked/);

      const reader = w.readers[0]!;
      const consentOf = async () =>
        (await w.t.db.db.selectFrom('subscriptions').select('tracking_consent_at').where('subscriber_id', '=', reader.id).executeTakeFirstOrThrow()).tracking_consent_at;
      assert.equal(await consentOf(), null);
      const prefs = w.t.agent();
      const page = await prefs.get(`/preferences/${reader.token}`);
      assert.match(page.body, new RegExp(`name="tracking" value="${w.newsletterId}"`));
      await prefs.post(`/preferences/${reader.token}`, { name: reader.name, newsletters: String(w.newsletterId), tracking: String(w.newsletterId) });
      assert.equal(Number(await consentOf()), w.t.clock.now());
      await prefs.post(`/preferences/${reader.token}`, { name: reader.name, newsletters: String(w.newsletterId) });
      assert.equal(await consentOf(), null);

      // The hosted form: a ticked box records consent with the new subscription, an unticked one does not.
      for (const [email, ticked] of [['yes@example.net', true], ['no@example.net', false]] as const) {
        const res = await subscribeViaForm(w.t, nl.slug, { email, ...(ticked ? { tracking_consent: 'on' } : {}) });
        assert.ok(res.statusCode < 400, res.body.slice(0, 300));
        const row = await w.t.db.db
          .selectFrom('subscriptions as sn')
          .innerJoin('subscribers as s', 's.id', 'sn.subscriber_id')
          .select('sn.tracking_consent_at')
          .where('s.email', '=', email)
          .executeTakeFirstOrThrow();
        assert.equal(row.tracking_consent_at === null, !ticked, email);
      }

      const off = await world('off', { readers: 1 });
      const offSlug = await off.t.db.db.selectFrom('newsletters').select('slug').where('id', '=', off.newsletterId).executeTakeFirstOrThrow();
      assert.doesNotMatch((await off.t.agent().get(`/n/${offSlug.slug}`)).body, /tracking_consent/);
    });
  });
}
