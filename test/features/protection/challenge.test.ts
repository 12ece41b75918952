import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { solveChallenge, type Challenge } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/sha';
import { CHALLENGE_TTL_MS, createProofOfWork } from '../../../src/features/protection/challenge.js';
import { buildTestApp, setupOwner, TEST_SECRET, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';

/** What the widget posts: the challenge it was given and the solution it found, as base64 JSON. */
async function solve(challenge: Challenge): Promise<string> {
  const solution = await solveChallenge({ challenge, deriveKey });
  assert.ok(solution, 'the challenge is solvable');
  return Buffer.from(JSON.stringify({ challenge: { parameters: challenge.parameters, signature: challenge.signature }, solution })).toString('base64');
}

describe('proof of work (ALTCHA), solved by a Node client', () => {
  const now = Date.UTC(2026, 10, 22, 12);
  const spent = new Set<string>();
  const spend = async (hash: string) => (spent.has(hash) ? false : (spent.add(hash), true));

  it('a solved challenge passes once; a replay, an expired one and another key fail', async () => {
    const pow = createProofOfWork(TEST_SECRET);
    const payload = await solve(await pow.issue(now));
    assert.equal(await pow.verify(payload, now + 1000, spend), 'ok');
    assert.equal(await pow.verify(payload, now + 2000, spend), 'invalid', 'replayed');

    const late = await solve(await pow.issue(now));
    assert.equal(await pow.verify(late, now + CHALLENGE_TTL_MS + 1, spend), 'expired');

    const other = createProofOfWork('another-secret-key-that-is-long-enough-xyz');
    assert.equal(await pow.verify(await solve(await other.issue(now)), now, spend), 'invalid', 'signed with another key');
    assert.equal(await pow.verify(undefined, now, spend), 'missing');
    assert.equal(await pow.verify('bm90IGpzb24=', now, spend), 'invalid');
  });

  it('a forged solution fails', async () => {
    const pow = createProofOfWork(TEST_SECRET);
    const challenge = await pow.issue(now);
    const forged = Buffer.from(JSON.stringify({ challenge, solution: { counter: 1, derivedKey: '00' } })).toString('base64');
    assert.equal(await pow.verify(forged, now, spend), 'invalid');
  });

  it('a challenge issued before a restart still verifies after it (the key comes from SECRET_KEY)', async () => {
    const payload = await solve(await createProofOfWork(TEST_SECRET).issue(now));
    assert.equal(await createProofOfWork(TEST_SECRET).verify(payload, now + 1000, spend), 'ok');
  });
});

for (const dialect of DIALECTS) {
  describe(`attack mode (${dialect})`, () => {
    let t: TestApp;
    afterEach(() => t.close());
    let n = 0;
    const post = (payload: Record<string, unknown>) =>
      t.app.inject({ method: 'POST', url: '/n/newsletter/subscribe', remoteAddress: `192.0.2.${++n % 250}`, headers: { accept: 'application/json', 'content-type': 'application/json' }, payload });
    const fetchChallenge = async () => (await t.app.inject({ method: 'GET', url: '/signup-challenge' })).json() as Challenge;

    it('switches on above the threshold, asks every sign-up for a solved challenge, and ends after a quiet half hour', async () => {
      t = await buildTestApp(dialect, { env: { SIGNUP_ATTACK_THRESHOLD: '3' } });
      await setupOwner(t);
      assert.doesNotMatch((await t.app.inject({ method: 'GET', url: '/n/newsletter' })).body, /altcha-widget/, 'no challenge, no JavaScript needed');
      for (let i = 0; i < 3; i++) assert.equal((await post({ email: `calm${i}@example.com` })).statusCode, 200);
      // The fourth sign-up in the minute crosses the threshold: from here on a challenge is required.
      const refused = await post({ email: 'burst@example.com' });
      assert.equal(refused.statusCode, 422);
      assert.equal(refused.json().error.code, 'challenge_required');

      const form = await t.app.inject({ method: 'POST', url: '/n/newsletter/subscribe', remoteAddress: '192.0.2.251', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'email=form%40example.com&source=embed' });
      assert.equal(form.statusCode, 422);
      assert.match(form.body, /role="alert">This form is receiving unusually many sign-ups/);
      const page = await t.app.inject({ method: 'GET', url: '/n/newsletter' });
      assert.match(page.body, /<altcha-widget challenge="\/signup-challenge" name="altcha"/);
      assert.match(page.body, /<noscript>.*needs JavaScript/s);
      assert.match(String(page.headers['content-security-policy']), /worker-src 'self' blob:/);
      const script = /<script type="module" src="(\/public\/vendor\/altcha-[\d.]+\.min\.js)">/.exec(page.body)![1]!;
      const js = await t.app.inject({ method: 'GET', url: script });
      assert.equal(js.statusCode, 200);
      assert.match(String(js.headers['content-type']), /javascript/);

      const challenge = await fetchChallenge();
      assert.equal(challenge.parameters.algorithm, 'SHA-256');
      const altcha = await solve(challenge);
      assert.equal((await post({ email: 'solver@example.com', altcha })).statusCode, 200);
      const replay = await post({ email: 'replayer@example.com', altcha });
      assert.equal(replay.statusCode, 422, 'one solution, one sign-up');
      const attempts = await t.db.db.selectFrom('signup_attempts').select(['email', 'reason']).orderBy('id').execute();
      assert.deepEqual(attempts.map((a) => `${a.reason}:${a.email}`), ['challenge_failed:burst@example.com', 'challenge_failed:form@example.com', 'challenge_failed:replayer@example.com']);

      t.clock.advance(31 * 60_000);
      assert.equal((await post({ email: 'after@example.com' })).statusCode, 200, 'attack mode ended');
    });

    it('"always" on the settings page asks every sign-up; the form then carries the widget', async () => {
      t = await buildTestApp(dialect);
      const admin = await setupOwner(t);
      await admin.get('/admin/protection');
      const saved = await admin.post('/admin/protection/settings', { challenge: 'always', disposable: 'reject', allowed_domains: '', blocked_domains: '' });
      assert.equal(saved.statusCode, 303);
      assert.match((await admin.get('/admin/protection')).body, /Challenge on every sign-up/);
      assert.match((await t.app.inject({ method: 'GET', url: '/n/newsletter' })).body, /altcha-widget/);
      assert.equal((await post({ email: 'plain@example.com' })).statusCode, 422);
      assert.equal((await post({ email: 'solved@example.com', altcha: await solve(await fetchChallenge()) })).statusCode, 200);
    });
  });
}
