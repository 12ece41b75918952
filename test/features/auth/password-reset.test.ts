import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { sha256Hex } from '../../../src/lib/tokens.js';
import { buildTestApp, OWNER, setupOwner, TEST_BASE_URL, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';

const HOUR = 60 * 60 * 1000;
const NEW_PASSWORD = 'a brand new passphrase';
const SAME_ANSWER = /If <strong>[^<]+<\/strong> has an account, we sent it a link/;
const INVALID = /This link has expired or was already used/;

for (const dialect of DIALECTS) {
  describe(`password reset by email (${dialect})`, () => {
    let t: TestApp;
    beforeEach(async () => {
      t = await buildTestApp(dialect);
      await setupOwner(t);
    });
    afterEach(() => t.close());

    /** The reset link's path from the last mail. */
    const lastResetPath = () => {
      const match = /http:\/\/gazette\.test(\/reset\/([A-Za-z0-9_-]+))/.exec(t.mailer.last()?.text ?? '');
      if (!match) throw new Error(`no reset link in: ${t.mailer.last()?.text}`);
      return { path: match[1]!, token: match[2]! };
    };
    const requestReset = async (email = OWNER.email) => {
      const res = await t.agent().post('/forgot', { email });
      assert.equal(res.statusCode, 200, res.body);
      return res;
    };
    const sessionCount = async () => (await t.db.db.selectFrom('sessions').select('id').execute()).length;
    const passwordHash = async () => (await t.db.db.selectFrom('users').select('password_hash').executeTakeFirstOrThrow()).password_hash;
    const signIn = (password: string) => t.agent().post('/login', { email: OWNER.email, password });
    /** A form post from a given client address, as a browser there would send it. */
    const postFrom = (ip: string, url: string, form: Record<string, string>) =>
      t.app.inject({
        method: 'POST',
        url,
        remoteAddress: ip,
        headers: { host: 'gazette.test', origin: TEST_BASE_URL, 'sec-fetch-site': 'same-origin', 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams(form).toString(),
      });

    it('the sign-in page links to the form; known and unknown addresses get the same answer, only an account gets mail', async () => {
      const login = await t.agent().get('/login');
      assert.match(login.body, /<a href="\/forgot">Forgot your password\?<\/a>/);
      const form = await t.agent().get('/forgot');
      assert.equal(form.statusCode, 200);
      assert.match(form.body, /<form method="post" action="\/forgot"/);

      const unknown = await requestReset('nobody@example.com');
      assert.equal(t.mailer.sent.length, 0);
      const known = await requestReset(`  ${OWNER.email.toUpperCase()} `);
      assert.match(known.body, SAME_ANSWER);
      assert.equal(unknown.body.replace('nobody@example.com', OWNER.email), known.body);

      assert.equal(t.mailer.sent.length, 1);
      const mail = t.mailer.last()!;
      assert.equal(mail.to, OWNER.email);
      assert.equal(mail.subject, 'Reset your Gazette password');
      assert.equal(mail.headers?.['Auto-Submitted'], 'auto-generated');
      const { token } = lastResetPath();
      assert.ok(token.length >= 43, 'a 256-bit token');
      // Only a hash of the token is stored, with a one-hour expiry.
      const rows = await t.db.db.selectFrom('password_resets').selectAll().execute();
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.token_hash, sha256Hex(token));
      assert.equal(Number(rows[0]!.expires_at), t.clock.now() + HOUR);
      assert.equal(rows[0]!.used_at, null);
      // The mail went through the outbox, queued with the token.
      const queued = await t.db.db.selectFrom('mail_outbox').select(['kind', 'to_address']).execute();
      assert.deepEqual(queued, [{ kind: 'password_reset', to_address: OWNER.email }]);
    });

    it('refuses a malformed address with 422 beside the field', async () => {
      const res = await t.agent().post('/forgot', { email: 'not an email' });
      assert.equal(res.statusCode, 422);
      assert.match(res.body, /id="f-email-error">Enter a valid email address/);
      assert.equal(t.mailer.sent.length, 0);
    });

    it('GET shows the form and changes nothing; POST sets the password once and signs out every session', async () => {
      const signedIn = t.agent();
      assert.equal((await signedIn.post('/login', { email: OWNER.email, password: OWNER.password })).statusCode, 303);
      const sessions = await sessionCount();
      assert.ok(sessions >= 1);
      const before = await passwordHash();

      await requestReset();
      const { path } = lastResetPath();
      const reader = t.agent();
      for (let i = 0; i < 2; i++) {
        const page = await reader.get(path);
        assert.equal(page.statusCode, 200);
        assert.match(page.body, new RegExp(`<form method="post" action="${path}"`));
        assert.equal(page.headers['referrer-policy'], 'no-referrer');
      }
      assert.equal(await sessionCount(), sessions, 'GET signs no one out');
      assert.equal(await passwordHash(), before, 'GET changes no password');
      assert.equal((await t.db.db.selectFrom('password_resets').select('used_at').executeTakeFirstOrThrow()).used_at, null);

      // The same rules as at setup, with the message beside the field; the link stays usable.
      const short = await reader.post(path, { password: 'short' });
      assert.equal(short.statusCode, 422);
      assert.match(short.body, /id="f-password-error">Use at least 10 characters\./);
      const named = await reader.post(path, { password: 'olive owner rocks' });
      assert.equal(named.statusCode, 422);
      assert.match(named.body, /does not contain your name or email/);
      assert.equal(await passwordHash(), before);

      const done = await reader.post(path, { password: NEW_PASSWORD });
      assert.equal(done.statusCode, 303);
      assert.equal(done.headers.location, '/login?reset=done');
      assert.match((await reader.get('/login?reset=done')).body, /Your password has been changed/);
      assert.equal(await sessionCount(), 0, 'every session is signed out');
      assert.equal((await signedIn.get('/admin')).statusCode, 303, 'the old session no longer works');
      assert.equal((await signIn(OWNER.password)).statusCode, 401);
      assert.equal((await signIn(NEW_PASSWORD)).statusCode, 303);

      // Used once: the link is dead for GET and POST alike.
      const again = await t.agent().get(path);
      assert.equal(again.statusCode, 404);
      assert.match(again.body, INVALID);
      const reuse = await t.agent().post(path, { password: 'yet another passphrase' });
      assert.equal(reuse.statusCode, 404);
      assert.equal((await signIn(NEW_PASSWORD)).statusCode, 303);
    });

    it('a link expires after an hour; using one link retires the others', async () => {
      await requestReset();
      const old = lastResetPath().path;
      t.clock.advance(HOUR);
      assert.equal((await t.agent().get(old)).statusCode, 404);
      assert.equal((await t.agent().post(old, { password: NEW_PASSWORD })).statusCode, 404);
      assert.equal((await signIn(OWNER.password)).statusCode, 303);

      await requestReset();
      const first = lastResetPath().path;
      await requestReset();
      const second = lastResetPath().path;
      assert.notEqual(first, second);
      // Expired links go when a new one is made.
      assert.equal((await t.db.db.selectFrom('password_resets').select('token_hash').execute()).length, 2);
      assert.equal((await t.agent().post(second, { password: NEW_PASSWORD })).statusCode, 303);
      assert.equal((await t.agent().get(first)).statusCode, 404);
      assert.equal((await t.agent().post(first, { password: 'yet another passphrase' })).statusCode, 404);
      assert.equal((await signIn(NEW_PASSWORD)).statusCode, 303);
    });

    it('two parallel presses with one link change the password once', async () => {
      await requestReset();
      const { path } = lastResetPath();
      const answers = await Promise.all([
        postFrom('192.0.2.1', path, { password: 'first parallel passphrase' }),
        postFrom('192.0.2.2', path, { password: 'second parallel passphrase' }),
      ]);
      assert.deepEqual(answers.map((r) => r.statusCode).sort(), [303, 404]);
      const winner = answers[0]!.statusCode === 303 ? 'first parallel passphrase' : 'second parallel passphrase';
      assert.equal((await signIn(winner)).statusCode, 303);
    });

    it('a reset lifts the sign-in limit its failures set', async () => {
      for (let i = 0; i < 5; i++) assert.equal((await signIn(`wrong guess ${i}`)).statusCode, 401);
      assert.equal((await signIn(OWNER.password)).statusCode, 429);
      await requestReset();
      assert.equal((await t.agent().post(lastResetPath().path, { password: NEW_PASSWORD })).statusCode, 303);
      assert.equal((await signIn(NEW_PASSWORD)).statusCode, 303);
    });

    it('rate-limits requests per address (known or not) and per IP, and new passwords per IP', async () => {
      for (const email of [OWNER.email, 'nobody@example.com']) {
        for (let i = 0; i < 3; i++) assert.equal((await postFrom(`198.51.100.${i}`, '/forgot', { email })).statusCode, 200);
        const limited = await postFrom('198.51.100.9', '/forgot', { email });
        assert.equal(limited.statusCode, 429, email);
        assert.ok(Number(limited.headers['retry-after']) > 0);
        assert.match(limited.body, /Too many reset requests/);
      }
      await t.mailOutbox.idle();
      assert.equal(t.mailer.sent.length, 3, 'three mails to the account, none more');

      for (let i = 0; i < 10; i++) assert.equal((await postFrom('203.0.113.5', '/forgot', { email: `spray${i}@example.com` })).statusCode, 200);
      assert.equal((await postFrom('203.0.113.5', '/forgot', { email: 'spray99@example.com' })).statusCode, 429);

      for (let i = 0; i < 10; i++) assert.equal((await postFrom('203.0.113.6', `/reset/guess${i}`, { password: NEW_PASSWORD })).statusCode, 404);
      const { path } = lastResetPath();
      const limited = await postFrom('203.0.113.6', path, { password: NEW_PASSWORD });
      assert.equal(limited.statusCode, 429);
      assert.equal((await signIn(OWNER.password)).statusCode, 303, 'the password is unchanged');
      t.clock.advance(HOUR);
      assert.equal((await postFrom('203.0.113.6', '/forgot', { email: OWNER.email })).statusCode, 200);
    });

    it('answers odd tokens with 404 (a NUL byte with 400 at the edge), never a 5xx', async () => {
      for (const token of ['x', 'a'.repeat(100), '%E2%86%92', '..%2F..']) {
        assert.equal((await t.agent().get(`/reset/${token}`)).statusCode, 404, token);
        assert.equal((await t.agent().post(`/reset/${token}`, { password: NEW_PASSWORD })).statusCode, 404, token);
      }
      assert.equal((await t.agent().get('/reset/%00')).statusCode, 400);
      assert.equal((await t.agent().post('/reset/%00', { password: NEW_PASSWORD })).statusCode, 400);
      // Longer than the router takes at all.
      assert.equal((await t.agent().get(`/reset/${'a'.repeat(500)}`)).statusCode, 414);
    });
  });
}
