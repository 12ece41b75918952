import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('link check settings', () => {
  it('default to public addresses only and five seconds a link', () => {
    const config = loadConfig({});
    assert.equal(config.linkCheckAllowPrivate, false);
    assert.equal(config.linkCheckTimeoutMs, 5000);
  });

  it('read LINK_CHECK_ALLOW_PRIVATE and LINK_CHECK_TIMEOUT', () => {
    const config = loadConfig({ LINK_CHECK_ALLOW_PRIVATE: 'true', LINK_CHECK_TIMEOUT: '20' });
    assert.equal(config.linkCheckAllowPrivate, true);
    assert.equal(config.linkCheckTimeoutMs, 20_000);
  });

  it('refuse bad values, naming each variable', () => {
    assert.throws(
      () => loadConfig({ LINK_CHECK_ALLOW_PRIVATE: 'sometimes', LINK_CHECK_TIMEOUT: '0' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.problems.map((p) => p.variable).sort(), ['LINK_CHECK_ALLOW_PRIVATE', 'LINK_CHECK_TIMEOUT']);
        return true;
      },
    );
  });
});
