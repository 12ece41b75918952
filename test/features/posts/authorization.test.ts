import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { buildTestApp, setupOwner, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { makeNewsletter, makePost, postRow } from './factories.js';

/** Every admin route the posts feature declares, read from its routes file so a new one cannot be missed. */
const ROUTES = [...readFileSync(new URL('../../../src/features/posts/routes.ts', import.meta.url), 'utf8').matchAll(/app\.(get|post)\('([^']+)'/g)].map(
  (m) => ({ method: m[1]!.toUpperCase(), path: m[2]! }),
);

for (const dialect of DIALECTS) {
  describe(`posts authorization (${dialect})`, () => {
    let t: TestApp;
    let postId: number;
    beforeEach(async () => {
      t = await buildTestApp(dialect);
      await setupOwner(t);
      const n = await makeNewsletter(t);
      postId = await makePost(t, n.id, { subject: 'Private draft', body: 'Secret body' });
    });
    afterEach(() => t.close());

    it('covers every route', () => {
      assert.ok(ROUTES.length >= 14, `found ${ROUTES.length} routes`);
      assert.ok(ROUTES.every((r) => r.path.startsWith('/admin/posts')));
    });

    it('refuses every /admin/posts route to an anonymous visitor and changes nothing', async () => {
      for (const route of ROUTES) {
        const url = route.path.replace(':id', String(postId));
        const anonymous = t.agent();
        const res =
          route.method === 'GET'
            ? await anonymous.get(url)
            : await anonymous.post(url, { subject: 'Hacked', body: 'x', newsletter_id: '1', recipients: 'a@example.com', scheduled_at: '2030-01-01T00:00' });
        if (route.method === 'GET') {
          assert.equal(res.statusCode, 303, `${route.method} ${url}`);
          assert.match(String(res.headers.location), /^\/login\?next=/);
        } else {
          assert.equal(res.statusCode, 401, `${route.method} ${url}`);
        }
        assert.doesNotMatch(res.body, /Private draft|Secret body/);
        const htmx = await t.agent().request(route.method, url, undefined, { 'hx-request': 'true' });
        assert.equal(htmx.statusCode, 401, `htmx ${route.method} ${url}`);
      }
      const row = await postRow(t, postId);
      assert.equal(row.subject, 'Private draft');
      assert.equal(row.status, 'draft');
      assert.equal(t.mailer.sent.length, 0);
      assert.equal((await t.db.db.selectFrom('posts').select('id').execute()).length, 1);
    });

    it('refuses a cross-site or token-less POST from a signed-in writer', async () => {
      const admin = t.agent();
      await admin.post('/login', { email: 'olive@example.com', password: 'a long enough passphrase' });
      await admin.get(`/admin/posts/${postId}/edit`);
      const crossSite = await admin.post(`/admin/posts/${postId}/edit`, { subject: 'Hacked' }, { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' });
      assert.equal(crossSite.statusCode, 403);
      const noToken = await admin.post(`/admin/posts/${postId}/delete`, { _csrf: 'wrong' });
      assert.equal(noToken.statusCode, 403);
      assert.equal((await postRow(t, postId)).subject, 'Private draft');
      const ok = await admin.post(`/admin/posts/${postId}/delete`);
      assert.equal(ok.statusCode, 303);
    });
  });
}
