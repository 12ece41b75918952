import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';

/** METRICS_TOKEN, SENTRY_DSN, SENTRY_ENVIRONMENT and LOG_FORMAT: defaults, and bad values named at start-up. */

function problems(env: Record<string, string>): Array<{ variable: string; message: string }> {
  try {
    loadConfig(env, '/tmp');
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('observability settings', () => {
  it('are off by default: no metrics, no Sentry, JSON logs', () => {
    const config = loadConfig({}, '/tmp');
    assert.deepEqual({ metricsToken: config.metricsToken, sentry: config.sentry, logFormat: config.logFormat }, { metricsToken: undefined, sentry: undefined, logFormat: 'json' });
  });

  it('read a token, a DSN with its environment, and the pretty format', () => {
    const config = loadConfig(
      { METRICS_TOKEN: ' 0123456789abcdef0123 ', SENTRY_DSN: 'https://abc123@o1.ingest.sentry.io/456', SENTRY_ENVIRONMENT: 'staging', LOG_FORMAT: 'pretty' },
      '/tmp',
    );
    assert.equal(config.metricsToken, '0123456789abcdef0123');
    assert.deepEqual(config.sentry, { dsn: 'https://abc123@o1.ingest.sentry.io/456', environment: 'staging' });
    assert.equal(config.logFormat, 'pretty');
    assert.equal(loadConfig({ SENTRY_DSN: 'http://key@127.0.0.1:9000/7' }, '/tmp').sentry?.environment, 'production');
  });

  it('name each bad value, without repeating a secret', () => {
    const found = problems({ METRICS_TOKEN: 'short', SENTRY_DSN: 'https://o1.ingest.sentry.io/456', LOG_FORMAT: 'yaml' });
    assert.deepEqual(found.map((p) => p.variable).sort(), ['LOG_FORMAT', 'METRICS_TOKEN', 'SENTRY_DSN']);
    assert.ok(!JSON.stringify(found).includes('short'), 'the token is not echoed');
    for (const dsn of ['not a url', 'ftp://key@host/1', 'https://key@host/project']) {
      assert.deepEqual(problems({ SENTRY_DSN: dsn }).map((p) => p.variable), ['SENTRY_DSN'], dsn);
    }
  });
});
