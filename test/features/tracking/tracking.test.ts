import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DIALECTS } from '../../helpers/db.js';
import { hit, hits, trackingPaths, worldsOf } from './setup.js';

/**
 * Tracking end to end: a post sent through the real renderer and engine to the dev outbox, its tracking
 * URLs fetched through the app, and the hits read back from the database after the recorder's flush.
 */
for (const dialect of DIALECTS) {
  describe(`open and click tracking (${dialect})`, () => {
    const world = worldsOf(dialect);

    it('off (the default) rewrites nothing and records nothing', async () => {
      const w = await world('off');
      const html = [...w.html.values()][0]!;
      assert.match(html, /href="https:\/\/example\.org\/report\?a=1&amp;b=2"/);
      assert.doesNotMatch(html, /gazette\.test\/(c|o)\//);
      assert.equal((await w.t.db.db.selectFrom('tracked_links').selectAll().execute()).length, 0);
      const res = await hit(w.t, '/o/whatever.gif');
      assert.equal(res.statusCode, 200);
      assert.deepEqual(await hits(w.t), []);
    });

    it('aggregate: the same anonymous URLs for everyone, reader links and exempt links untouched', async () => {
      const w = await world('aggregate');
      const [a, b] = [...w.html.values()];
      const paths = trackingPaths(a!);
      assert.deepEqual(trackingPaths(b!), paths, 'every reader gets the same tracking URLs');
      assert.equal(paths.clicks.length, 3);
      assert.ok(paths.canary && paths.pixel.endsWith('.gif'));
      assert.ok(!paths.clicks.some((c) => c.includes('.')), 'no personal part');
      assert.match(a!, /href="https:\/\/example\.org\/private"/);
      assert.match(a!, /href="https:\/\/example\.org\/skip"/);
      assert.doesNotMatch(a!, /data-gz-notrack|gz_notrack/);
      assert.match(a!, /href="http:\/\/gazette\.test\/unsubscribe\/[^"]+"/);
      assert.match(a!, /href="http:\/\/gazette\.test\/n\/[^"]+\/archive\/[^"]+"/);

      const res = await hit(w.t, paths.clicks[0]!);
      assert.equal(res.statusCode, 302);
      assert.equal(res.headers.location, 'https://example.org/report?a=1&b=2');
      assert.equal(res.headers['cache-control'], 'no-store');
      const pixel = await hit(w.t, paths.pixel);
      assert.equal(pixel.statusCode, 200);
      assert.equal(pixel.headers['content-type'], 'image/gif');
      assert.equal(pixel.rawPayload.length, 43);
      assert.match(String(pixel.headers['cache-control']), /no-store/);

      const rows = await hits(w.t);
      assert.deepEqual(rows.map((r) => [r.kind, r.verdict, r.subscriber_id, r.delivery_id]), [
        ['click', 'human', null, null],
        ['open', 'human', null, null],
      ]);
    });

    it('a tampered or foreign token is a 404 (never a redirect), and a bad pixel still answers the GIF', async () => {
      const w = await world('aggregate');
      const { clicks, pixel } = trackingPaths([...w.html.values()][0]!);
      const token = clicks[0]!.slice('/c/'.length);
      const flipped = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
      for (const path of [`/c/${flipped}`, `/c/${token}?url=https://evil.example`.replace(token, flipped), '/c/aHR0cHM6Ly9ldmlsLmV4YW1wbGU', `/c/${pixel.slice(3, -4)}`]) {
        const res = await hit(w.t, path);
        assert.equal(res.statusCode, 404, path);
        assert.equal(res.headers.location, undefined);
      }
      const ok = await hit(w.t, `/c/${token}?url=https://evil.example`);
      assert.equal(ok.headers.location, 'https://example.org/report?a=1&b=2', 'the target comes from the token only');
      const bad = await hit(w.t, `/o/${pixel.slice(3, -5)}x.gif`);
      assert.equal(bad.statusCode, 200);
      assert.equal(bad.rawPayload.length, 43);
      assert.equal((await hits(w.t)).length, 1, 'only the genuine click');
    });

    it('per subscriber: only consenting readers get personal URLs; withdrawn consent records anonymously', async () => {
      const w = await world('subscriber', { readers: 3, consenting: 1 });
      const [consenting, other] = w.readers;
      const mine = trackingPaths(w.html.get(consenting!.email)!);
      const theirs = trackingPaths(w.html.get(other!.email)!);
      assert.ok(mine.clicks.every((c) => c.includes('.')) && mine.pixel.split('.').length === 3, 'personal suffix on every URL');
      assert.ok(theirs.clicks.every((c) => !c.includes('.')), 'no personal suffix without consent');
      assert.deepEqual(trackingPaths(w.html.get(w.readers[2]!.email)!), theirs);

      w.t.clock.advance(5 * 60_000);
      await hit(w.t, mine.pixel);
      await hit(w.t, theirs.pixel, { ip: '198.51.100.8' });
      let rows = await hits(w.t);
      assert.deepEqual(rows.map((r) => r.subscriber_id), [consenting!.id, null]);
      assert.ok(rows[0]!.delivery_id !== null);
      // "Download my data" has the consent and the reader's own opens.
      const data = JSON.parse((await w.t.app.inject({ url: `/preferences/${consenting!.token}/data.json` })).body);
      assert.ok(data.subscriptions[0].trackingConsentAt);
      assert.deepEqual(data.opensAndClicks.map((h: { kind: string; verdict: string }) => [h.kind, h.verdict]), [['open', 'human']]);

      await w.t.db.db.updateTable('subscriptions').set({ tracking_consent_at: null }).where('subscriber_id', '=', consenting!.id).execute();
      await hit(w.t, mine.clicks[0]!);
      rows = await hits(w.t);
      assert.deepEqual([rows[2]!.kind, rows[2]!.subscriber_id, rows[2]!.delivery_id], ['click', null, null]);
    });

    it('a personal token moved onto another post is ignored (recorded anonymously)', async () => {
      const w = await world('subscriber', { readers: 1, consenting: 1 });
      const { clicks } = trackingPaths([...w.html.values()][0]!);
      const [shared, personal] = clicks[0]!.split('.');
      const forged = `${shared}.${personal!.slice(0, -2)}AA`;
      const res = await hit(w.t, forged);
      assert.equal(res.statusCode, 302);
      const rows = await hits(w.t);
      assert.equal(rows[0]!.subscriber_id, null);
    });

    it('classifies machines: Apple MPP, image proxies, HEAD, bots, a scanner burst, the canary, a click on arrival', async () => {
      const w = await world('subscriber', { readers: 3, consenting: 3 });
      const [a, b, c] = w.readers.map((r) => trackingPaths(w.html.get(r.email)!));
      // Reader a: machines only.
      await hit(w.t, a!.pixel, { ua: 'Mozilla/5.0', ip: '203.0.113.9' });
      await hit(w.t, a!.pixel, { ip: '17.58.1.2' });
      await hit(w.t, a!.clicks[0]!, { method: 'HEAD' });
      await hit(w.t, a!.clicks[0]!, { ua: 'python-requests/2.32' });
      await hit(w.t, a!.clicks[0]!, { ua: '' });
      // Reader b: a gateway follows every link on arrival, and the canary.
      w.t.clock.advance(30_000);
      for (const path of b!.clicks) {
        await hit(w.t, path, { ip: '192.0.2.50' });
        w.t.clock.advance(60);
      }
      await hit(w.t, b!.canary, { ip: '192.0.2.50' });
      // Reader c: opens through Gmail's proxy, then clicks one link five minutes later like a person.
      await hit(w.t, c!.pixel, { ua: 'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)' });
      w.t.clock.advance(5 * 60_000);
      await hit(w.t, c!.clicks[1]!, { ip: '198.51.100.99' });

      const rows = await hits(w.t);
      const verdicts = rows.map((r) => `${r.kind}:${r.verdict}`);
      assert.deepEqual(verdicts, [
        'open:apple_mpp',
        'open:apple_mpp',
        'click:scanner_head',
        'click:scanner_ua',
        'click:scanner_ua',
        'click:canary',
        'click:canary',
        'click:canary',
        'canary:canary',
        'open:proxy_open',
        'click:human',
      ]);
    });

    it('a burst without the canary is a scanner, and a click right after delivery is a prefetch', async () => {
      const w = await world('subscriber', { readers: 2, consenting: 2 });
      const [a, b] = w.readers.map((r) => trackingPaths(w.html.get(r.email)!));
      w.t.clock.advance(60_000);
      for (const path of a!.clicks) await hit(w.t, path);
      const rows = await hits(w.t);
      assert.deepEqual(rows.map((r) => r.verdict), ['scanner_burst', 'scanner_burst', 'scanner_burst']);

      const w2 = await world('subscriber', { readers: 1, consenting: 1 });
      const [fresh] = w2.readers.map((r) => trackingPaths(w2.html.get(r.email)!));
      w2.t.clock.advance(3_000);
      await hit(w2.t, fresh!.clicks[0]!);
      assert.deepEqual((await hits(w2.t)).map((r) => r.verdict), ['prefetch_window']);
      void b;
    });

    it('keeps neither the IP address nor the user agent, and a GDPR erasure removes the reader’s hits', async () => {
      const w = await world('subscriber', { readers: 2, consenting: 2 });
      const [a, b] = w.readers;
      w.t.clock.advance(5 * 60_000);
      await hit(w.t, trackingPaths(w.html.get(a!.email)!).pixel, { ip: '198.51.100.201', ua: 'Distinctive-Agent/9.9 (Macintosh)' });
      await hit(w.t, trackingPaths(w.html.get(b!.email)!).pixel, { ip: '198.51.100.202' });
      const rows = await hits(w.t);
      assert.equal(rows.length, 2);
      const dump = JSON.stringify(rows);
      assert.doesNotMatch(dump, /198\.51\.100|Distinctive-Agent/);

      const agentRes = await w.t.db.db.deleteFrom('subscribers').where('id', '=', a!.id).execute();
      assert.equal(Number(agentRes[0]!.numDeletedRows), 1);
      const left = await w.t.db.db.selectFrom('tracking_hits').select('subscriber_id').execute();
      assert.deepEqual(left.map((r) => r.subscriber_id), [b!.id]);
    });
  });
}
