import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { afterEach, describe, it } from 'node:test';
import { buildTestApp, OWNER, setupOwner, type Agent, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;
const NEW_PASSWORD = 'a brand new passphrase';

type SetCookie = { name: string; value: string; path?: string; httpOnly?: boolean; secure?: boolean; sameSite?: string; expires?: Date; domain?: string };

function sessionCookieOf(res: { cookies: unknown[] }, name = 'gazette_session'): SetCookie | undefined {
  return (res.cookies as SetCookie[]).find((c) => c.name === name);
}

for (const dialect of DIALECTS) {
  describe(`sessions (${dialect})`, () => {
    let t: TestApp;
    afterEach(() => t?.close());

    const sessions = () => t.db.db.selectFrom('sessions').selectAll().orderBy('created_at').execute();

    /** A second browser signing in through the form. */
    async function signIn(): Promise<Agent> {
      const agent = t.agent();
      const res = await agent.post('/login', { email: OWNER.email, password: OWNER.password });
      assert.equal(res.statusCode, 303);
      return agent;
    }

    it('sets an HttpOnly, SameSite=Lax, host-wide cookie without Secure on http', async () => {
      t = await buildTestApp(dialect);
      const res = await t.agent().post('/setup', OWNER);
      assert.equal(res.statusCode, 303);
      const raw = String(res.headers['set-cookie']);
      assert.match(raw, /^gazette_session=[\w-]+\.[\w-]+;/);
      assert.match(raw, /; HttpOnly/);
      assert.match(raw, /; SameSite=Lax/);
      assert.match(raw, /; Path=\/;/);
      assert.doesNotMatch(raw, /Secure|Domain=/i);
      const cookie = sessionCookieOf(res)!;
      // The cookie lives as long as the idle timeout (10 days from now, on the app's clock).
      assert.equal(cookie.expires?.getTime(), t.clock.now() + 10 * DAY);
    });

    it('uses a __Host- prefixed, Secure cookie when BASE_URL is https', async () => {
      t = await buildTestApp(dialect, { env: { BASE_URL: 'https://gazette.test' } });
      const res = await t.agent().post('/setup', OWNER);
      assert.equal(res.statusCode, 303);
      const raw = String(res.headers['set-cookie']);
      assert.match(raw, /^__Host-gazette_session=/);
      assert.match(raw, /; Secure/);
      assert.match(raw, /; Path=\/;/);
      assert.match(raw, /; HttpOnly/);
      assert.doesNotMatch(raw, /Domain=/i);
      assert.equal(res.headers['strict-transport-security'], 'max-age=31536000');
      // The plain name means nothing on https.
      const agent = t.agent();
      agent.cookies.set('gazette_session', sessionCookieOf(res, '__Host-gazette_session')!.value);
      assert.equal((await agent.get('/admin')).statusCode, 303);
    });

    it('stores only a SHA-256 of the secret, never the cookie value', async () => {
      t = await buildTestApp(dialect);
      const agent = await setupOwner(t);
      const token = agent.cookies.get('gazette_session')!;
      const [id, secret] = token.split('.') as [string, string];
      assert.ok(secret.length >= 40, 'the secret carries 256 bits');
      const rows = await sessions();
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.id, id);
      assert.equal(rows[0]!.secret_hash, createHash('sha256').update(secret).digest('hex'));
      const stored = JSON.stringify(rows);
      assert.ok(!stored.includes(secret), 'the secret is not stored');
      assert.ok(!stored.includes(token), 'the cookie value is not stored');
    });

    it('rejects a tampered secret and clears the cookie, leaving the real session alone', async () => {
      t = await buildTestApp(dialect);
      const agent = await setupOwner(t);
      const token = agent.cookies.get('gazette_session')!;
      const last = token.at(-1) === 'A' ? 'B' : 'A';
      for (const forged of [token.slice(0, -1) + last, token.split('.')[0]!, `${token.split('.')[0]}.`, 'garbage', `.${token}`]) {
        const mallory = t.agent();
        mallory.cookies.set('gazette_session', forged);
        const res = await mallory.get('/admin');
        assert.equal(res.statusCode, 303, `forged cookie ${JSON.stringify(forged)} is refused`);
        assert.equal(res.headers.location, '/login?next=%2Fadmin');
        assert.equal(mallory.cookies.has('gazette_session'), false, 'the bad cookie is cleared');
      }
      assert.equal((await sessions()).length, 1);
      assert.equal((await agent.get('/admin')).statusCode, 200);
    });

    it('expires after 10 idle days and deletes the session', async () => {
      t = await buildTestApp(dialect);
      const agent = await setupOwner(t);
      t.clock.advance(10 * DAY - 1);
      assert.equal((await agent.get('/admin')).statusCode, 200, 'one millisecond before the idle timeout');

      t.clock.advance(10 * DAY);
      const res = await agent.get('/admin');
      assert.equal(res.statusCode, 303);
      assert.equal(res.headers.location, '/login?next=%2Fadmin');
      assert.equal((await sessions()).length, 0);
      assert.equal(agent.cookies.has('gazette_session'), false);
    });

    it('slides the expiry forward, writing last_verified_at at most once an hour', async () => {
      t = await buildTestApp(dialect);
      const agent = await setupOwner(t);
      const created = t.clock.now();
      assert.equal((await sessions())[0]!.last_verified_at, created);

      t.clock.advance(59 * 60 * 1000);
      const quiet = await agent.get('/admin');
      assert.equal(quiet.statusCode, 200);
      assert.equal((await sessions())[0]!.last_verified_at, created, 'no write within the hour');
      assert.equal(sessionCookieOf(quiet), undefined, 'no new cookie within the hour');

      t.clock.advance(60 * 1000);
      const refreshed = await agent.get('/admin');
      assert.equal(refreshed.statusCode, 200);
      const at = t.clock.now();
      assert.equal((await sessions())[0]!.last_verified_at, at);
      assert.equal(sessionCookieOf(refreshed)?.expires?.getTime(), at + 10 * DAY, 'the cookie is re-sent with the new expiry');
      assert.equal(sessionCookieOf(refreshed)?.value, agent.cookies.get('gazette_session'), 'same session, same token');

      t.clock.advance(30 * 60 * 1000);
      await agent.get('/admin');
      assert.equal((await sessions())[0]!.last_verified_at, at);

      // Activity every 9 days keeps a session alive well past 10 days from sign-in.
      for (let i = 0; i < 3; i++) {
        t.clock.advance(9 * DAY);
        assert.equal((await agent.get('/admin')).statusCode, 200);
      }
      assert.equal((await sessions()).length, 1);
    });

    it('revokes every other session on a password change but keeps this browser signed in', async () => {
      t = await buildTestApp(dialect);
      const me = await setupOwner(t);
      const other = await signIn();
      const third = await signIn();
      assert.equal((await other.get('/admin')).statusCode, 200);
      assert.equal((await sessions()).length, 3);
      const oldToken = me.cookies.get('gazette_session');

      await me.get('/admin/settings');
      const res = await me.post('/admin/settings/password', { current_password: OWNER.password, new_password: NEW_PASSWORD });
      assert.equal(res.statusCode, 303);
      assert.equal(res.headers.location, '/admin/settings?saved=password');
      assert.notEqual(me.cookies.get('gazette_session'), oldToken, 'this browser gets a fresh session');

      const page = await me.get('/admin/settings?saved=password');
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /Password changed\. Every other session has been signed out\./);
      for (const agent of [other, third]) {
        const kicked = await agent.get('/admin');
        assert.equal(kicked.statusCode, 303);
        assert.equal(kicked.headers.location, '/login?next=%2Fadmin');
      }
      const rows = await sessions();
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.id, me.cookies.get('gazette_session')!.split('.')[0]);

      // The new password works and the old one does not.
      assert.equal((await t.agent().post('/login', { email: OWNER.email, password: OWNER.password })).statusCode, 401);
      assert.equal((await t.agent().post('/login', { email: OWNER.email, password: NEW_PASSWORD })).statusCode, 303);
    });

    it('refuses a password change with the wrong current password and changes nothing', async () => {
      t = await buildTestApp(dialect);
      const me = await setupOwner(t);
      const other = await signIn();
      await me.get('/admin/settings');
      const res = await me.post('/admin/settings/password', { current_password: 'not my password', new_password: NEW_PASSWORD });
      assert.equal(res.statusCode, 422);
      assert.match(res.body, /id="f-current_password-error">That is not your current password\./);
      assert.equal((await other.get('/admin')).statusCode, 200);
      assert.equal((await sessions()).length, 2);
    });

    it('deletes the session row on sign-out, and the old cookie is dead afterwards', async () => {
      t = await buildTestApp(dialect);
      const me = await setupOwner(t);
      const other = await signIn();
      const token = me.cookies.get('gazette_session')!;
      const res = await me.post('/logout');
      assert.equal(res.statusCode, 303);
      const rows = await sessions();
      assert.equal(rows.length, 1, "only the other browser's session is left");
      assert.notEqual(rows[0]!.id, token.split('.')[0]);
      assert.equal((await other.get('/admin')).statusCode, 200);

      const replay = t.agent();
      replay.cookies.set('gazette_session', token);
      assert.equal((await replay.get('/admin')).statusCode, 303);
    });

    it('replaces a session cookie set before sign-in (fixation)', async () => {
      t = await buildTestApp(dialect);
      // The attacker has a valid session of their own and plants its cookie in the victim's browser.
      const attacker = await setupOwner(t);
      const planted = attacker.cookies.get('gazette_session')!;
      const victim = t.agent();
      victim.cookies.set('gazette_session', planted);
      // A signed-in page gives the browser a form token, as any page with the sign-in form would.
      assert.equal((await victim.get('/admin')).statusCode, 200);
      const res = await victim.post('/login', { email: OWNER.email, password: OWNER.password });
      assert.equal(res.statusCode, 303);
      const fresh = victim.cookies.get('gazette_session')!;
      assert.notEqual(fresh, planted);
      assert.equal(sessionCookieOf(res)?.value, fresh);
      // The planted session is gone, so the attacker's copy opens nothing.
      const ids = (await sessions()).map((s) => s.id);
      assert.deepEqual(ids, [fresh.split('.')[0]]);
      assert.equal((await attacker.get('/admin')).statusCode, 303);
      assert.equal((await victim.get('/admin')).statusCode, 200);

      // A made-up cookie is simply replaced too.
      const other = t.agent();
      other.cookies.set('gazette_session', 'made.up');
      await other.get('/login');
      assert.equal((await other.post('/login', { email: OWNER.email, password: OWNER.password })).statusCode, 303);
      assert.notEqual(other.cookies.get('gazette_session'), 'made.up');
      assert.equal((await other.get('/admin')).statusCode, 200);
    });
  });
}
