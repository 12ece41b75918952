import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { buildTestApp, setupOwner, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { subscribeViaForm, subscriptionOf } from '../readers/helpers.js';
import { STANDARD_ZONES, startDnsServer, type TestDnsServer } from '../validation/dns-server.js';

const json = (t: TestApp, payload: Record<string, unknown>, ip = '203.0.113.9') =>
  t.app.inject({ method: 'POST', url: '/n/newsletter/subscribe', remoteAddress: ip, headers: { accept: 'application/json', 'content-type': 'application/json' }, payload });

const attempts = (t: TestApp) => t.db.db.selectFrom('signup_attempts').select(['email', 'reason', 'outcome']).orderBy('id').execute();

for (const dialect of DIALECTS) {
  describe(`sign-up checks (${dialect})`, () => {
    let dns: TestDnsServer;
    let t: TestApp;
    before(async () => {
      dns = await startDnsServer(STANDARD_ZONES);
    });
    after(() => dns.close());
    afterEach(() => t.close());

    const start = async (env: Record<string, string> = {}) => {
      t = await buildTestApp(dialect, { env: { EMAIL_DNS_CHECK: 'on', EMAIL_DNS_SERVERS: dns.address, EMAIL_DNS_TIMEOUT: '3000', ...env } });
      await setupOwner(t);
    };

    it('a likely typo re-renders the form (422) with "use" and "keep"; both choices work', async () => {
      await start({ EMAIL_DNS_CHECK: 'off' });
      const res = await subscribeViaForm(t, 'newsletter', { email: 'anna@gnail.com', name: 'Anna' });
      assert.equal(res.statusCode, 422);
      assert.match(res.body, /Did you mean <strong>anna@gmail.com<\/strong>\?/);
      assert.match(res.body, /name="use_suggestion" value="1">Use anna@gmail.com/);
      assert.match(res.body, /name="accept_typo" value="1">Keep anna@gnail.com/);
      assert.equal(await subscriptionOf(t, 'anna@gnail.com'), undefined, 'never corrected or added silently');

      const use = await subscribeViaForm(t, 'newsletter', { email: 'anna@gnail.com', typed: 'anna@gnail.com', suggestion: 'anna@gmail.com', use_suggestion: '1' });
      assert.equal(use.statusCode, 200);
      assert.equal((await subscriptionOf(t, 'anna@gmail.com'))?.status, 'pending');
      assert.equal(t.mailer.last()?.to, 'anna@gmail.com');

      const keep = await subscribeViaForm(t, 'newsletter', { email: 'bert@gnail.com', typed: 'bert@gnail.com', suggestion: 'bert@gmail.com', accept_typo: '1' });
      assert.equal(keep.statusCode, 200);
      assert.equal((await subscriptionOf(t, 'bert@gnail.com'))?.status, 'pending');

      const api = await json(t, { email: 'carl@gnail.com' });
      assert.equal(api.statusCode, 422);
      assert.equal(api.json().error.code, 'email_typo_suspected');
      assert.equal(api.json().error.suggestion, 'carl@gmail.com');
      assert.equal((await json(t, { email: 'carl@gnail.com', accept_typo: true })).statusCode, 200);
    });

    it('disposable, null MX and NXDOMAIN are refused in words and recorded', async () => {
      await start();
      const disposable = await subscribeViaForm(t, 'newsletter', { email: 'x@mailinator.com' });
      assert.equal(disposable.statusCode, 422);
      assert.match(disposable.body, /mailinator.com hands out throwaway addresses/);
      assert.equal((await json(t, { email: 'y@sub.mailinator.com' })).json().error.code, 'email_disposable');
      const nullMx = await json(t, { email: 'a@nullmx.test' });
      assert.equal(nullMx.statusCode, 422);
      assert.deepEqual(nullMx.json().error.fields, { email: 'nullmx.test does not accept email. Please use another address.' });
      assert.equal((await json(t, { email: 'a@nx.test' })).json().error.code, 'email_domain_not_found');
      assert.equal((await json(t, { email: 'a@good.test' })).statusCode, 200);
      assert.equal((await json(t, { email: 'b@aonly.test' })).statusCode, 200);
      assert.equal(t.mailer.sent.filter((m) => /mailinator|nullmx|nx\.test/.test(m.to)).length, 0, 'no mail to a refused address');
      assert.deepEqual(
        (await attempts(t)).map((a) => `${a.reason}/${a.outcome}/${a.email}`),
        ['disposable/refused/x@mailinator.com', 'disposable/refused/y@sub.mailinator.com', 'null_mx/refused/a@nullmx.test', 'no_domain/refused/a@nx.test'],
      );
    });

    it('a silent DNS server or SERVFAIL lets the sign-up through once the budget is spent, flagged for the writer', async () => {
      // The budget is made small so the test does not wait the default 2 s for the silent server.
      await start({ EMAIL_DNS_TIMEOUT: '100' });
      assert.equal((await json(t, { email: 'late@slow.test' })).statusCode, 200);
      assert.equal((await json(t, { email: 'fail@servfail.test' })).statusCode, 200);
      assert.equal((await subscriptionOf(t, 'late@slow.test'))?.status, 'pending');
      assert.equal((await subscriptionOf(t, 'fail@servfail.test'))?.status, 'pending');
      assert.deepEqual((await attempts(t)).map((a) => `${a.reason}/${a.outcome}/${a.email}`), ['dns_unverified/flagged/late@slow.test', 'dns_unverified/flagged/fail@servfail.test']);
      const admin = await setupOwnerAgain(t);
      assert.match((await admin.get('/admin/protection')).body, /Subscribed with an unverified domain[\s\S]*late@slow.test/);
    });

    it('internationalised domains subscribe, stored in ASCII form; the same address typed either way is one subscriber', async () => {
      await start();
      assert.equal((await subscribeViaForm(t, 'newsletter', { email: 'Jürgen@müller.test' })).statusCode, 422, 'a non-ASCII local part is refused');
      const res = await subscribeViaForm(t, 'newsletter', { email: 'juergen@müller.test' });
      assert.equal(res.statusCode, 200);
      assert.equal((await subscriptionOf(t, 'juergen@xn--mller-kva.test'))?.status, 'pending');
      assert.equal(t.mailer.last()?.to, 'juergen@xn--mller-kva.test');
      await subscribeViaForm(t, 'newsletter', { email: 'juergen@xn--mller-kva.test' });
      const rows = await t.db.db.selectFrom('subscribers').select('email').where('email', 'like', 'juergen@%').execute();
      assert.equal(rows.length, 1);
    });

    it('held for review: a neutral answer, no mail; the writer sees it and approves it into a pending subscription', async () => {
      await start({ DISPOSABLE_EMAILS: 'hold', EMAIL_DNS_CHECK: 'off' });
      const res = await subscribeViaForm(t, 'newsletter', { email: 'held@mailinator.com', name: '<a href="http://spam.example">win</a>' });
      assert.equal(res.statusCode, 202);
      assert.match(res.body, /reviewed by the writer/);
      assert.equal(t.mailer.sent.length, 0);
      assert.equal(await subscriptionOf(t, 'held@mailinator.com'), undefined);

      const admin = await setupOwnerAgain(t);
      const page = await admin.get('/admin/protection');
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /held@mailinator.com/);
      assert.match(page.body, /<td>Throwaway \(disposable\) address<\/td><td>1<\/td><td>1<\/td>/);
      const id = /\/admin\/protection\/held\/(\d+)\/approve/.exec(page.body)![1]!;
      const approved = await admin.post(`/admin/protection/held/${id}/approve`);
      assert.equal(approved.statusCode, 303);
      assert.equal((await subscriptionOf(t, 'held@mailinator.com'))?.status, 'pending');
      const mail = t.mailer.last()!;
      assert.equal(mail.to, 'held@mailinator.com');
      assert.doesNotMatch(mail.text + (mail.html ?? ''), /spam\.example|win/, 'nothing the visitor typed but the address');
      assert.equal((await admin.post(`/admin/protection/held/${id}/approve`)).statusCode, 409, 'approved once');
      assert.equal((await admin.post('/admin/protection/held/99999999999/approve')).statusCode, 404);
    });

    it('honeypot, too-fast and rate refusals are recorded and counted by reason on the admin page', async () => {
      await start({ EMAIL_DNS_CHECK: 'off', SUBSCRIBE_RATE_LIMIT: '2' });
      await subscribeViaForm(t, 'newsletter', { email: 'bot@example.com', website: 'http://spam.example' });
      const agent = t.agent();
      const home = await agent.get('/n/newsletter');
      const token = /name="t" value="([^"]+)"/.exec(home.body)![1]!;
      assert.equal((await agent.post('/n/newsletter/subscribe', { t: token, email: 'quick@example.com' })).statusCode, 422);
      for (let i = 0; i < 3; i++) await json(t, { email: `r${i}@example.com` }, '198.51.100.7');
      const reasons = (await attempts(t)).map((a) => a.reason);
      assert.deepEqual(reasons, ['honeypot', 'too_fast', 'rate']);
      const admin = await setupOwnerAgain(t);
      const page = await admin.get('/admin/protection');
      for (const label of ['Bot filled the hidden field', 'Form sent too fast', 'Too many attempts (rate limit)']) assert.match(page.body, new RegExp(`<td>${label.replace(/[()]/g, '\\$&')}</td><td>1</td>`));
      assert.match(page.body, /Normal: the challenge turns on by itself/);
      assert.match(page.body, /disposable-email-domains-js \d+\.\d+\.\d+/);
    });

    it('list bombing: one confirmation per address a day, whoever asks from wherever', async () => {
      await start({ EMAIL_DNS_CHECK: 'off' });
      for (const ip of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) assert.equal((await json(t, { email: 'victim@example.com' }, ip)).statusCode, 200);
      await t.mailOutbox.idle();
      assert.equal(t.mailer.sent.filter((m) => m.to === 'victim@example.com').length, 1);
    });

    it('the settings page saves allow and block lists and refuses a bad domain with 422', async () => {
      await start({ EMAIL_DNS_CHECK: 'off' });
      const admin = await setupOwnerAgain(t);
      const bad = await admin.post('/admin/protection/settings', { challenge: 'auto', disposable: 'reject', allowed_domains: 'not a domain!', blocked_domains: '' });
      assert.equal(bad.statusCode, 422);
      assert.match(bad.body, /one domain per line/i);
      const ok = await admin.post('/admin/protection/settings', { challenge: 'auto', disposable: 'reject', allowed_domains: 'mailinator.com', blocked_domains: 'rival.example' });
      assert.equal(ok.statusCode, 303);
      assert.equal((await json(t, { email: 'fine@mailinator.com' })).statusCode, 200);
      assert.equal((await json(t, { email: 'x@rival.example' })).json().error.code, 'email_blocked');
    });
  });
}

/** A signed-in admin agent for an app whose owner exists already. */
async function setupOwnerAgain(t: TestApp) {
  const agent = t.agent();
  await agent.get('/login');
  const res = await agent.post('/login', { email: 'olive@example.com', password: 'a long enough passphrase' });
  if (res.statusCode !== 303) throw new Error(`login failed: ${res.statusCode}`);
  await agent.get('/admin/protection');
  return agent;
}
