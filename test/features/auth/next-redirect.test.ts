import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { safeNext } from '../../../src/features/auth/routes.js';
import { buildTestApp, OWNER, setupOwner, TEST_BASE_URL, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';

describe('safeNext', () => {
  it('keeps same-site paths, encodes what a Location header cannot carry, and drops the rest', () => {
    assert.equal(safeNext('/admin/posts?status=sent#top'), '/admin/posts?status=sent#top');
    assert.equal(safeNext('/a%20b'), '/a%20b', 'an existing escape is not encoded twice');
    assert.equal(safeNext('/→'), '/%E2%86%92');
    assert.equal(safeNext('/café 😀'), '/caf%C3%A9%20%F0%9F%98%80');
    assert.equal(safeNext('/\uFF0F/evil.example'), '/%EF%BC%8F/evil.example');
    for (const bad of ['/\ud800', '//evil.example', '/\\evil.example', '/\t/evil.example', 'evil', '', undefined, ['/admin']]) {
      assert.equal(safeNext(bad), '/admin', JSON.stringify(bad));
    }
  });
});

for (const dialect of DIALECTS) {
  describe(`following next after sign-in (${dialect})`, () => {
    let t: TestApp;
    beforeEach(async () => {
      t = await buildTestApp(dialect);
      await setupOwner(t);
    });
    afterEach(() => t.close());

    it('redirects to a next path with characters above U+00FF, percent-encoded', async () => {
      const agent = t.agent();
      const res = await agent.post('/login', { email: OWNER.email, password: OWNER.password, next: '/admin/posts?q=→' });
      assert.equal(res.statusCode, 303);
      assert.equal(res.headers.location, '/admin/posts?q=%E2%86%92');
      // Signed in already: /login forwards straight away, through the same rule.
      const again = await agent.get(`/login?next=${encodeURIComponent('/→')}`);
      assert.equal(again.statusCode, 303);
      assert.equal(again.headers.location, '/%E2%86%92');
      // An encoded surrogate in the query decodes to a lone surrogate, which no encoding can carry.
      const broken = await agent.get('/login?next=%2F%ED%A0%80');
      assert.equal(broken.statusCode, 303);
      assert.equal(broken.headers.location, '/admin');
    });

    it('drops a next that cannot be encoded (a lone surrogate from JSON)', async () => {
      const res = await t.agent().request('POST', '/login', JSON.stringify({ email: OWNER.email, password: OWNER.password, next: '/\ud800' }), {
        'content-type': 'application/json',
        origin: TEST_BASE_URL,
        'sec-fetch-site': 'same-origin',
      });
      assert.equal(res.statusCode, 303);
      assert.equal(res.headers.location, '/admin');
    });
  });
}
