import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, beforeEach, describe, it, test } from 'node:test';
import { connectDatabase } from '../../../src/db/connect.js';
import { buildTestApp, setupOwner, type Agent, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { firstNewsletterId, makeSubscriber } from './factories.js';

function emails(body: string): string[] {
  return [...body.matchAll(/<td><a href="\/admin\/subscribers\/\d+">([^<]+)<\/a><\/td>/g)].map((m) => m[1]!);
}

const tabs = (body: string) =>
  Object.fromEntries([...body.matchAll(/(All|Active|Pending|Unsubscribed) <span class="count">(\d+)<\/span>/g)].map((m) => [m[1], Number(m[2])]));

for (const dialect of DIALECTS) {
  describe(`subscriber search folds case beyond ASCII (${dialect})`, () => {
    let t: TestApp;
    let agent: Agent;
    let weekly: number;
    beforeEach(async () => {
      t = await buildTestApp(dialect);
      agent = await setupOwner(t);
      weekly = await firstNewsletterId(t.db.db);
      const db = t.db.db;
      await makeSubscriber(db, { email: 'elodie@example.fr', name: 'Élodie Müller', subscriptions: [{ newsletterId: weekly, status: 'active' }] });
      await makeSubscriber(db, { email: 'oskar@example.de', name: 'ÖSKAR STRAẞE', subscriptions: [{ newsletterId: weekly, status: 'pending' }] });
      await makeSubscriber(db, { email: 'other@example.com', name: 'Someone Else', subscriptions: [{ newsletterId: weekly, status: 'active' }] });
    });
    afterEach(() => t.close());

    it('finds Élodie by "élodie", "ÉLODIE" and "Élodie", with counts to match', async () => {
      for (const q of ['élodie', 'ÉLODIE', 'Élodie', 'MÜLLER', 'müller']) {
        const res = await agent.get(`/admin/subscribers?q=${encodeURIComponent(q)}`);
        assert.equal(res.statusCode, 200);
        assert.deepEqual(emails(res.body), ['elodie@example.fr'], q);
        assert.deepEqual(tabs(res.body), { All: 1, Active: 1, Pending: 0, Unsubscribed: 0 }, q);
      }
      // Upper-case letters outside Latin-1 fold too; an unaccented query does not match an accented name.
      assert.deepEqual(emails((await agent.get(`/admin/subscribers?q=${encodeURIComponent('öskar straße')}`)).body), ['oskar@example.de']);
      assert.deepEqual(emails((await agent.get(`/admin/subscribers?q=${encodeURIComponent('ÖSKAR')}&newsletter=${weekly}&status=pending`)).body), ['oskar@example.de']);
      assert.deepEqual(emails((await agent.get('/admin/subscribers?q=zz')).body), []);
    });

    it('applies a bulk action to exactly the Unicode-folded search', async () => {
      const res = await agent.post('/admin/subscribers/bulk', { action: 'tag', tag_name: 'francophone', scope: 'filter', q: 'ÉLODIE' });
      assert.ok(res.statusCode < 400, `${res.statusCode} ${res.body.slice(0, 300)}`);
      const tagged = await t.db.db
        .selectFrom('subscriber_tags as st')
        .innerJoin('subscribers as s', 's.id', 'st.subscriber_id')
        .innerJoin('tags as g', 'g.id', 'st.tag_id')
        .where('g.name', '=', 'francophone')
        .select('s.email')
        .execute();
      assert.deepEqual(tagged.map((r) => r.email), ['elodie@example.fr']);
    });
  });
}

test('the checkpoint thread’s connection folds case as the main connection does (reads handed aside)', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gazette-fold-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const handle = await connectDatabase({ kind: 'sqlite', file: path.join(dir, 'db.sqlite') }, { checkpointIntervalMs: 3_600_000 });
  try {
    assert.deepEqual(await handle.checkpointer!.read("select unicode_lower('ÉLODIE Straẞe') as v", []), [{ v: 'élodie straße' }]);
  } finally {
    await handle.close();
  }
});
