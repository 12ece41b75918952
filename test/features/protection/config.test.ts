import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../../src/config.js';

const problemsOf = (env: Record<string, string>) => {
  try {
    loadConfig(env, '/tmp');
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems.map((p) => p.variable);
  }
};

describe('sign-up settings from the environment', () => {
  it('defaults: DNS checks on with a 2 s budget, throwaway addresses refused, no captcha', () => {
    const { signup } = loadConfig({}, '/tmp');
    assert.deepEqual(signup, { dnsCheck: true, dnsTimeoutMs: 2000, dnsServers: undefined, disposable: 'reject', allowedDomains: [], attackThresholdPerMinute: 30, captcha: undefined });
  });

  it('reads every variable', () => {
    const { signup } = loadConfig(
      { EMAIL_DNS_CHECK: 'off', EMAIL_DNS_TIMEOUT: '500', EMAIL_DNS_SERVERS: '127.0.0.1:5353, 1.1.1.1', DISPOSABLE_EMAILS: 'hold', SUBSCRIBE_ALLOWED_DOMAINS: 'Staff.Example.org', SIGNUP_ATTACK_THRESHOLD: '100', HCAPTCHA_SITE_KEY: 'site', HCAPTCHA_SECRET: 'secret' },
      '/tmp',
    );
    assert.deepEqual(signup, {
      dnsCheck: false,
      dnsTimeoutMs: 500,
      dnsServers: ['127.0.0.1:5353', '1.1.1.1'],
      disposable: 'hold',
      allowedDomains: ['staff.example.org'],
      attackThresholdPerMinute: 100,
      captcha: { provider: 'hcaptcha', siteKey: 'site', secret: 'secret', verifyUrl: 'https://api.hcaptcha.com/siteverify' },
    });
  });

  it('every bad value is named at start-up', () => {
    assert.deepEqual(
      problemsOf({ EMAIL_DNS_CHECK: 'maybe', EMAIL_DNS_TIMEOUT: '0', EMAIL_DNS_SERVERS: 'dns.example', DISPOSABLE_EMAILS: 'sometimes', SUBSCRIBE_ALLOWED_DOMAINS: 'not a domain', SIGNUP_ATTACK_THRESHOLD: '-1', CAPTCHA_VERIFY_URL: 'ftp://x' }).sort(),
      ['CAPTCHA_VERIFY_URL', 'DISPOSABLE_EMAILS', 'EMAIL_DNS_CHECK', 'EMAIL_DNS_SERVERS', 'EMAIL_DNS_TIMEOUT', 'SIGNUP_ATTACK_THRESHOLD', 'SUBSCRIBE_ALLOWED_DOMAINS'],
    );
    assert.deepEqual(problemsOf({ TURNSTILE_SITE_KEY: 'site' }), ['TURNSTILE_SECRET']);
    assert.deepEqual(problemsOf({ TURNSTILE_SITE_KEY: 'a', TURNSTILE_SECRET: 'b', HCAPTCHA_SITE_KEY: 'c', HCAPTCHA_SECRET: 'd' }), ['TURNSTILE_SECRET']);
  });
});

describe('the page policy while a challenge is shown', () => {
  it('lets each widget load what it needs, and nothing more', async () => {
    const { challengePagePolicy } = await import('../../../src/features/protection/widget.js');
    const altcha = challengePagePolicy({ kind: 'altcha', challengeUrl: '/signup-challenge' });
    assert.match(altcha, /script-src 'self' 'wasm-unsafe-eval';/);
    assert.match(altcha, /worker-src 'self' blob:; frame-src 'none'; connect-src 'self'$/);
    const turnstile = challengePagePolicy({ kind: 'turnstile', siteKey: 'k', scriptUrl: 'https://challenges.cloudflare.com/turnstile/v0/api.js', field: 'cf-turnstile-response' });
    assert.match(turnstile, /frame-src https:\/\/challenges.cloudflare.com;/);
    const hcaptcha = challengePagePolicy({ kind: 'hcaptcha', siteKey: 'k', scriptUrl: 'https://js.hcaptcha.com/1/api.js', field: 'h-captcha-response' });
    assert.match(hcaptcha, /frame-src https:\/\/hcaptcha.com https:\/\/\*.hcaptcha.com;/);
  });
});
