import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { buildTestApp, setupOwner, type TestApp } from '../../helpers/app.js';

/** Cloudflare's documented test secrets: always passes, always fails, "already spent". */
const SECRETS = { pass: '1x0000000000000000000000000000000AA', fail: '2x0000000000000000000000000000000AA', spent: '3x0000000000000000000000000000000AA' };

/** A local siteverify endpoint that answers as Turnstile's does for its test secrets. */
async function startSiteverify(): Promise<{ url: string; requests: URLSearchParams[]; server: Server }> {
  const requests: URLSearchParams[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const form = new URLSearchParams(body);
      requests.push(form);
      const secret = form.get('secret');
      const answer =
        secret === SECRETS.pass && form.get('response')
          ? { success: true, 'error-codes': [] }
          : secret === SECRETS.spent
            ? { success: false, 'error-codes': ['timeout-or-duplicate'] }
            : { success: false, 'error-codes': ['invalid-input-response'] };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/turnstile/v0/siteverify`, requests, server };
}

describe('Turnstile, verified server-side against a local siteverify', () => {
  let fake: Awaited<ReturnType<typeof startSiteverify>>;
  let t: TestApp;
  before(async () => {
    fake = await startSiteverify();
  });
  after(() => new Promise<void>((r) => fake.server.close(() => r())));
  afterEach(() => t.close());

  const start = async (secret: string, verifyUrl = fake.url, env: Record<string, string> = {}) => {
    t = await buildTestApp('sqlite', { env: { TURNSTILE_SITE_KEY: '1x00000000000000000000AA', TURNSTILE_SECRET: secret, CAPTCHA_VERIFY_URL: verifyUrl, ...env } });
    const admin = await setupOwner(t);
    await admin.get('/admin/protection');
    await admin.post('/admin/protection/settings', { challenge: 'always', disposable: 'reject', allowed_domains: '', blocked_domains: '' });
  };
  const post = (payload: Record<string, unknown>) =>
    t.app.inject({ method: 'POST', url: '/n/newsletter/subscribe', remoteAddress: '198.51.100.20', headers: { accept: 'application/json', 'content-type': 'application/json' }, payload });

  it('the form carries the provider widget; a passing token subscribes, with secret, token and IP sent to siteverify', async () => {
    await start(SECRETS.pass);
    const page = await t.app.inject({ method: 'GET', url: '/n/newsletter' });
    assert.match(page.body, /<div class="cf-turnstile" data-sitekey="1x00000000000000000000AA">/);
    assert.match(String(page.headers['content-security-policy']), /script-src 'self' 'wasm-unsafe-eval' https:\/\/challenges.cloudflare.com/);
    assert.equal((await post({ email: 'person@example.com' })).statusCode, 422, 'no token');
    const ok = await post({ email: 'person@example.com', 'cf-turnstile-response': 'XXXX.DUMMY.TOKEN' });
    assert.equal(ok.statusCode, 200);
    const last = fake.requests.at(-1)!;
    assert.equal(last.get('secret'), SECRETS.pass);
    assert.equal(last.get('response'), 'XXXX.DUMMY.TOKEN');
    assert.equal(last.get('remoteip'), '198.51.100.20');
  });

  it('a failing or already-spent token is refused with 422', async () => {
    await start(SECRETS.fail);
    assert.equal((await post({ email: 'a@example.com', 'cf-turnstile-response': 'token' })).statusCode, 422);
    await t.close();
    await start(SECRETS.spent);
    const spent = await post({ email: 'b@example.com', 'cf-turnstile-response': 'token' });
    assert.equal(spent.statusCode, 422);
    assert.equal(spent.json().error.code, 'challenge_required');
  });

  it('the provider down: allowed outside attack mode, refused in it', async () => {
    await start(SECRETS.pass, 'http://127.0.0.1:9/siteverify', { SIGNUP_ATTACK_THRESHOLD: '2' });
    assert.equal((await post({ email: 'c@example.com', 'cf-turnstile-response': 'token' })).statusCode, 200, 'fails open');
    await post({ email: 'd@example.com', 'cf-turnstile-response': 'token' });
    assert.equal((await post({ email: 'e@example.com', 'cf-turnstile-response': 'token' })).statusCode, 422, 'fails closed under attack');
  });
});

describe('housekeeping', () => {
  it('the prune job forgets spent challenges past expiry and refusals older than 30 days, never held sign-ups', async () => {
    const t = await buildTestApp('sqlite');
    try {
      const db = t.db.db;
      const now = t.clock.now();
      await db.insertInto('used_challenges').values([{ signature_hash: 'old', expires_at: now - 1 }, { signature_hash: 'live', expires_at: now + 60_000 }]).execute();
      const attempt = { newsletter_id: null, email: 'x@example.com', source: 'form', decided_at: null } as const;
      await db
        .insertInto('signup_attempts')
        .values([
          { ...attempt, reason: 'honeypot', outcome: 'refused', created_at: now - 31 * 86_400_000 },
          { ...attempt, reason: 'disposable', outcome: 'held', created_at: now - 31 * 86_400_000 },
          { ...attempt, reason: 'rate', outcome: 'refused', created_at: now - 1000 },
        ])
        .execute();
      const result = await t.jobs.runOnce('signup-protection-prune');
      assert.equal(result.outcome, 'ok');
      assert.deepEqual((await db.selectFrom('used_challenges').select('signature_hash').execute()).map((r) => r.signature_hash), ['live']);
      assert.deepEqual((await db.selectFrom('signup_attempts').select('reason').orderBy('id').execute()).map((r) => r.reason), ['disposable', 'rate']);
    } finally {
      await t.close();
    }
  });
});
