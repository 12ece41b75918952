import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../../src/config.js';
import { configProblems } from '../../helpers/config.js';

const base = { BASE_URL: 'https://news.example.org', DATA_DIR: '/tmp/gazette-test-unused' };

const problems = (env: Record<string, string>) => configProblems({ ...base, ...env }).map((p) => p.variable);

describe('Stripe settings', () => {
  it('are off without both secrets, and on with both', () => {
    assert.equal(loadConfig(base).stripe, undefined);
    const on = loadConfig({ ...base, STRIPE_SECRET_KEY: 'sk_live_abc123', STRIPE_WEBHOOK_SECRET: 'whsec_abc123' });
    assert.deepEqual(on.stripe, { secretKey: 'sk_live_abc123', webhookSecret: 'whsec_abc123', apiBase: undefined });
    const local = loadConfig({ ...base, STRIPE_SECRET_KEY: 'sk_test_abc123', STRIPE_WEBHOOK_SECRET: 'whsec_abc123', STRIPE_API_BASE: 'http://127.0.0.1:12111/' });
    assert.equal(local.stripe?.apiBase, 'http://127.0.0.1:12111');
  });

  it('name the variable that is missing or malformed', () => {
    assert.deepEqual(problems({ STRIPE_SECRET_KEY: 'sk_test_abc123' }), ['STRIPE_WEBHOOK_SECRET']);
    assert.deepEqual(problems({ STRIPE_WEBHOOK_SECRET: 'whsec_abc123' }), ['STRIPE_SECRET_KEY']);
    assert.deepEqual(problems({ STRIPE_SECRET_KEY: 'pk_test_abc', STRIPE_WEBHOOK_SECRET: 'whsec_abc123' }), ['STRIPE_SECRET_KEY']);
    assert.deepEqual(problems({ STRIPE_SECRET_KEY: 'sk_test_abc123', STRIPE_WEBHOOK_SECRET: 'secret' }), ['STRIPE_WEBHOOK_SECRET']);
    assert.deepEqual(problems({ STRIPE_SECRET_KEY: 'sk_test_abc123', STRIPE_WEBHOOK_SECRET: 'whsec_abc123', STRIPE_API_BASE: 'api.stripe.com/v1' }), ['STRIPE_API_BASE']);
    assert.deepEqual(problems({ STRIPE_API_BASE: 'https://api.stripe.com' }), ['STRIPE_API_BASE']);
  });
});
