import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { buildTestApp, OWNER, setupOwner, TEST_BASE_URL, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';

const FIFTEEN_MINUTES = 15 * 60 * 1000;
const MISMATCH = 'That email and password do not match an account.';

for (const dialect of DIALECTS) {
  describe(`sign-in and sign-out (${dialect})`, () => {
    let t: TestApp;
    beforeEach(async () => {
      t = await buildTestApp(dialect);
      // The owner exists; the agent that created them is thrown away, so tests start signed out.
      await setupOwner(t);
    });
    afterEach(() => t.close());

    /** A sign-in posted from a given client address, as a browser there would send it. */
    const loginFrom = (ip: string, form: Record<string, string>) =>
      t.app.inject({
        method: 'POST',
        url: '/login',
        remoteAddress: ip,
        headers: { host: 'gazette.test', origin: TEST_BASE_URL, 'sec-fetch-site': 'same-origin', 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams(form).toString(),
      });

    const sessionCount = async () => (await t.db.db.selectFrom('sessions').selectAll().execute()).length;

    it('signs in through the form, reaches the admin, and signs out', async () => {
      const agent = t.agent();
      const page = await agent.get('/login');
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /<form method="post" action="\/login"/);

      const before = await sessionCount();
      const res = await agent.post('/login', { email: OWNER.email, password: OWNER.password });
      assert.equal(res.statusCode, 303);
      assert.equal(res.headers.location, '/admin');
      assert.ok(agent.cookies.has('gazette_session'));
      assert.equal(await sessionCount(), before + 1);

      const dash = await agent.get('/admin');
      assert.equal(dash.statusCode, 200);
      assert.match(dash.body, /Hello, Olive Owner/);

      const out = await agent.post('/logout');
      assert.equal(out.statusCode, 303);
      assert.equal(out.headers.location, '/login');
      assert.equal(agent.cookies.has('gazette_session'), false);
      assert.equal(await sessionCount(), before);
      const after = await agent.get('/admin');
      assert.equal(after.statusCode, 303);
      assert.equal(after.headers.location, '/login?next=%2Fadmin');
    });

    it('accepts the email in any case and with spaces around it', async () => {
      const res = await t.agent().post('/login', { email: `  ${OWNER.email.toUpperCase()} `, password: OWNER.password });
      assert.equal(res.statusCode, 303);
    });

    it('answers a wrong password and an unknown email the same way, without a session', async () => {
      const wrong = await t.agent().post('/login', { email: OWNER.email, password: 'not the right password' });
      const unknown = await t.agent().post('/login', { email: 'nobody@example.com', password: 'not the right password' });
      for (const res of [wrong, unknown]) {
        assert.equal(res.statusCode, 401);
        assert.ok(res.body.includes(MISMATCH));
        assert.equal(res.headers['set-cookie'], undefined);
      }
      // Apart from the echoed email, the two pages are byte for byte the same.
      assert.equal(unknown.body.replace('nobody@example.com', OWNER.email), wrong.body);
      assert.doesNotMatch(wrong.body, /not the right password/, 'the password is never echoed');
    });

    it('re-renders the form with 422 when a field is missing', async () => {
      const res = await t.agent().post('/login', { email: '', password: '' });
      assert.equal(res.statusCode, 422);
      assert.match(res.body, /id="f-email-error">Enter your email address\./);
    });

    it('rate-limits repeated failures with 429 and Retry-After, and lifts it after the window', async () => {
      const agent = t.agent();
      for (let i = 0; i < 5; i++) {
        assert.equal((await agent.post('/login', { email: OWNER.email, password: `wrong guess ${i}` })).statusCode, 401);
      }
      // Now even the right password from this address waits.
      const limited = await agent.post('/login', { email: OWNER.email, password: OWNER.password });
      assert.equal(limited.statusCode, 429);
      assert.equal(limited.headers['retry-after'], '900');
      assert.match(limited.body, /Too many failed sign-in attempts/);
      assert.equal(limited.headers['set-cookie'], undefined);

      t.clock.advance(10 * 60 * 1000);
      const later = await agent.post('/login', { email: OWNER.email, password: OWNER.password });
      assert.equal(later.statusCode, 429);
      assert.equal(later.headers['retry-after'], '300');

      t.clock.advance(5 * 60 * 1000);
      const ok = await agent.post('/login', { email: OWNER.email, password: OWNER.password });
      assert.equal(ok.statusCode, 303);
      assert.equal((await agent.get('/admin')).statusCode, 200);
    });

    it('limits one address spraying many accounts', async () => {
      for (let i = 0; i < 30; i++) {
        assert.equal((await loginFrom('198.51.100.7', { email: `user${i}@example.com`, password: 'guess guess' })).statusCode, 401);
      }
      const res = await loginFrom('198.51.100.7', { email: OWNER.email, password: OWNER.password });
      assert.equal(res.statusCode, 429);
      assert.ok(Number(res.headers['retry-after']) > 0);
      t.clock.advance(FIFTEEN_MINUTES);
      assert.equal((await loginFrom('198.51.100.7', { email: OWNER.email, password: OWNER.password })).statusCode, 303);
    });

    it('still lets the right password in from another address while one address is limited', async () => {
      for (let i = 0; i < 6; i++) await loginFrom('203.0.113.66', { email: OWNER.email, password: `guess ${i} guess` });
      assert.equal((await loginFrom('203.0.113.66', { email: OWNER.email, password: OWNER.password })).statusCode, 429);

      const res = await loginFrom('192.0.2.10', { email: OWNER.email, password: OWNER.password });
      assert.equal(res.statusCode, 303);
      assert.equal(res.headers.location, '/admin');
      assert.match(String(res.headers['set-cookie']), /^gazette_session=/);
    });

    it('follows `next` to a same-site path after sign-in', async () => {
      const agent = t.agent();
      const redirect = await agent.get('/admin/settings');
      assert.equal(redirect.headers.location, '/login?next=%2Fadmin%2Fsettings');
      const form = await agent.get(String(redirect.headers.location));
      assert.match(form.body, /name="next" value="\/admin\/settings"/);
      const res = await agent.post('/login', { email: OWNER.email, password: OWNER.password, next: '/admin/settings' });
      assert.equal(res.statusCode, 303);
      assert.equal(res.headers.location, '/admin/settings');
      // Already signed in: /login forwards to `next` straight away.
      const again = await agent.get('/login?next=%2Fadmin%2Foutbox');
      assert.equal(again.headers.location, '/admin/outbox');
    });

    it('never redirects off-site, whatever `next` says', async () => {
      const offSite = ['//evil.com', 'https://evil.com', '/\\evil.com', '\\\\evil.com', '/\t/evil.com', '/\n/evil.com', '/\r\n/evil.com', 'javascript:alert(1)', 'admin'];
      for (const next of offSite) {
        const res = await t.agent().post('/login', { email: OWNER.email, password: OWNER.password, next });
        assert.equal(res.statusCode, 303, JSON.stringify(next));
        assert.equal(res.headers.location, '/admin', `next=${JSON.stringify(next)} falls back to /admin`);
        // A signed-in visit to /login follows the same rule.
        const agent = t.agent();
        await agent.post('/login', { email: OWNER.email, password: OWNER.password });
        const again = await agent.get(`/login?next=${encodeURIComponent(next)}`);
        assert.equal(again.headers.location, '/admin', `GET /login?next=${JSON.stringify(next)}`);
      }
    });

    it('sends anonymous admin pages to the sign-in page', async () => {
      for (const url of ['/admin', '/admin/settings', '/admin/outbox', '/admin/outbox?before=5']) {
        const res = await t.agent().get(url);
        assert.equal(res.statusCode, 303, url);
        assert.equal(res.headers.location, `/login?next=${encodeURIComponent(url)}`);
      }
    });

    it('refuses anonymous admin POSTs with 401 and changes nothing', async () => {
      for (const url of ['/admin/settings/password', '/admin/settings/test-email', '/admin/outbox/clear']) {
        const res = await t.agent().post(url, { current_password: OWNER.password, new_password: 'something else entirely' });
        assert.equal(res.statusCode, 401, url);
        assert.equal(res.headers.location, undefined);
        assert.deepEqual(res.json(), { error: { code: 'unauthorized', message: 'Sign in first.' } });
      }
      assert.equal(t.mailer.sent.length, 0);
      // The password is unchanged.
      assert.equal((await t.agent().post('/login', { email: OWNER.email, password: OWNER.password })).statusCode, 303);
    });

    it('answers htmx with 401 and HX-Redirect instead of a redirect', async () => {
      const res = await t.agent().get('/admin/settings', { 'hx-request': 'true' });
      assert.equal(res.statusCode, 401);
      assert.equal(res.headers['hx-redirect'], '/login?next=%2Fadmin%2Fsettings');
    });
  });
}
