import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { buildTestApp, OWNER, setupOwner, TEST_BASE_URL, type Agent, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const SAME_ORIGIN = { ...FORM, origin: TEST_BASE_URL, 'sec-fetch-site': 'same-origin' };

for (const dialect of DIALECTS) {
  describe(`CSRF protection (${dialect})`, () => {
    let t: TestApp;
    let agent: Agent;
    let token: string;

    beforeEach(async () => {
      t = await buildTestApp(dialect);
      agent = await setupOwner(t);
      const page = await agent.get('/admin/settings');
      token = /name="_csrf" value="([^"]+)"/.exec(page.body)![1]!;
    });
    afterEach(() => t.close());

    /** Posts "send a test email" (its effect is easy to see: a captured message) with exactly these parts. */
    const sendTest = (body: string, headers: Record<string, string>) => agent.request('POST', '/admin/settings/test-email', body, headers);

    const refused = (res: { statusCode: number; body: string }) => {
      assert.equal(res.statusCode, 403);
      assert.equal(t.mailer.sent.length, 0, 'the refused request had no effect');
    };

    it('refuses a signed-in POST without the token', async () => {
      const res = await sendTest('', SAME_ORIGIN);
      refused(res);
      assert.match(res.body, /This form has expired/);
    });

    it('refuses a wrong token', async () => {
      refused(await sendTest('_csrf=not-the-token', SAME_ORIGIN));
      refused(await sendTest(`_csrf=${token.slice(0, -1)}`, SAME_ORIGIN));
      refused(await sendTest('', { ...SAME_ORIGIN, 'x-csrf-token': 'nope' }));
    });

    it("refuses another session's token", async () => {
      const other = t.agent();
      await other.post('/login', { email: OWNER.email, password: OWNER.password });
      const otherPage = await other.get('/admin/settings');
      const otherToken = /name="_csrf" value="([^"]+)"/.exec(otherPage.body)![1]!;
      assert.notEqual(otherToken, token);
      refused(await sendTest(`_csrf=${encodeURIComponent(otherToken)}`, SAME_ORIGIN));
    });

    it('refuses Sec-Fetch-Site: cross-site even with the right token', async () => {
      for (const site of ['cross-site', 'same-site', 'none']) {
        const res = await sendTest(`_csrf=${encodeURIComponent(token)}`, { ...SAME_ORIGIN, 'sec-fetch-site': site });
        refused(res);
        assert.match(res.body, /sent from another site/);
      }
    });

    it('refuses a foreign Origin even with the right token', async () => {
      for (const origin of ['https://evil.example', 'http://gazette.test.evil.example', 'null']) {
        const headers: Record<string, string> = { ...FORM, origin };
        refused(await sendTest(`_csrf=${encodeURIComponent(token)}`, headers));
      }
    });

    it('accepts the token from the page', async () => {
      const res = await sendTest(`_csrf=${encodeURIComponent(token)}`, SAME_ORIGIN);
      assert.equal(res.statusCode, 200);
      assert.equal(t.mailer.sent.length, 1);
      assert.equal(t.mailer.last()?.to, OWNER.email);
      // Older browsers send neither Origin nor Sec-Fetch-Site: the token alone is enough then.
      const bare = await sendTest(`_csrf=${encodeURIComponent(token)}`, FORM);
      assert.equal(bare.statusCode, 200);
      assert.equal(t.mailer.sent.length, 2);
    });

    it('accepts the token in the x-csrf-token header that htmx sends', async () => {
      const res = await sendTest('', { ...SAME_ORIGIN, 'hx-request': 'true', 'x-csrf-token': token });
      assert.equal(res.statusCode, 200);
      assert.equal(t.mailer.sent.length, 1);
      // An htmx request gets the result fragment, not the whole page.
      assert.match(res.body, /^<div id="test-result"/);
      assert.doesNotMatch(res.body, /<html/);
      assert.equal(res.headers.vary, 'HX-Request');
    });

    it('puts the token in the hx-headers of the body, the same as in the forms', async () => {
      const page = await agent.get('/admin');
      const hx = /<body hx-headers='([^']+)'>/.exec(page.body);
      assert.ok(hx, 'the body carries hx-headers');
      assert.deepEqual(JSON.parse(hx[1]!), { 'x-csrf-token': token });
      // The token is tied to the session: the same on every page of it.
      const settings = await agent.get('/admin/settings');
      assert.ok(settings.body.includes(`hx-headers='{"x-csrf-token": "${token}"}'`));
    });

    it('keeps a signed-in session alive when sign-out comes without the token', async () => {
      const res = await agent.request('POST', '/logout', '', SAME_ORIGIN);
      assert.equal(res.statusCode, 403);
      assert.equal((await t.db.db.selectFrom('sessions').selectAll().execute()).length, 1);
      assert.equal((await agent.get('/admin')).statusCode, 200);
    });

    it('refuses a cross-site sign-in form (login CSRF)', async () => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/login',
        headers: { host: 'gazette.test', ...FORM, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
        payload: new URLSearchParams({ email: OWNER.email, password: OWNER.password }).toString(),
      });
      assert.equal(res.statusCode, 403);
      assert.equal(res.headers['set-cookie'], undefined);
    });

    it('answers a refused JSON request with a JSON error', async () => {
      const res = await sendTest('', { ...SAME_ORIGIN, accept: 'application/json' });
      refused(res);
      assert.equal(res.json().error.code, 'forbidden');
    });
  });
}
