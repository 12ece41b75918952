import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';

/** The sending engine's own settings fail fast, naming the variable, like every other setting. */

const base = { BASE_URL: 'https://news.example.com', DATA_DIR: '/tmp/gazette-test-unused' };

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig({ ...base, ...env });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.variable}: ${p.message}`);
    throw err;
  }
  return [];
}

describe('sending settings', () => {
  it('defaults: scheduled posts may be 60 minutes late, no mailto unsubscribe', () => {
    const config = loadConfig(base);
    assert.equal(config.scheduleMaxLatenessMs, 60 * 60_000);
    assert.equal(config.listUnsubscribeMailto, undefined);
  });

  it('reads SCHEDULE_MAX_LATENESS in minutes and LIST_UNSUBSCRIBE_MAILTO with or without mailto:', () => {
    const config = loadConfig({ ...base, SCHEDULE_MAX_LATENESS: '0', LIST_UNSUBSCRIBE_MAILTO: 'mailto:unsubscribe@example.com' });
    assert.equal(config.scheduleMaxLatenessMs, 0);
    assert.equal(config.listUnsubscribeMailto, 'unsubscribe@example.com');
  });

  it('rejects bad values, naming the variable', () => {
    assert.match(problemsOf({ SCHEDULE_MAX_LATENESS: 'soon' }).join('\n'), /^SCHEDULE_MAX_LATENESS: must be a whole number from 0 to 10080/m);
    assert.match(problemsOf({ SCHEDULE_MAX_LATENESS: '-5' }).join('\n'), /^SCHEDULE_MAX_LATENESS:/m);
    assert.match(problemsOf({ LIST_UNSUBSCRIBE_MAILTO: 'not an address\r\nBcc: x@y.z' }).join('\n'), /^LIST_UNSUBSCRIBE_MAILTO: must be a plain address/m);
  });
});
