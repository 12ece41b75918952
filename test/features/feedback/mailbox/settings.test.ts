import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../../../src/config.js';
import { imapOptions } from '../../../../src/features/feedback/mailbox/poller.js';
import { describeSettings } from '../../../../src/features/settings/service.js';

const base = { BASE_URL: 'https://news.example.com', DATA_DIR: '/tmp/gazette-test-unused' };
const load = (env: Record<string, string>) => loadConfig({ ...base, ...env });

/** The variables ConfigError names for `env`, with their messages. */
function problems(env: Record<string, string>): Array<[string, string]> {
  try {
    load(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => [p.variable, p.message]);
    throw err;
  }
  return [];
}

describe('bounce mailbox settings (BOUNCE_IMAP_*)', () => {
  it('is off without BOUNCE_IMAP_URL', () => {
    assert.equal(load({}).bounceMailbox, undefined);
  });

  it('reads imaps:// with percent-encoded credentials and the default folders', () => {
    assert.deepEqual(load({ BOUNCE_IMAP_URL: 'imaps://bounces%40news.example.com:p%40ss%25word@imap.example.com' }).bounceMailbox, {
      host: 'imap.example.com',
      port: 993,
      secure: true,
      allowPlaintext: false,
      user: 'bounces@news.example.com',
      password: 'p@ss%word',
      mailbox: 'INBOX',
      processedFolder: 'Gazette/Processed',
      unparsedFolder: 'Gazette/Unparsed',
    });
  });

  it('reads imap:// with a port, a separate password, folders and the plaintext opt-in', () => {
    const s = load({
      BOUNCE_IMAP_URL: 'imap://bounces@mail.internal:1143',
      BOUNCE_IMAP_PASSWORD: 'from-a-secret',
      BOUNCE_IMAP_MAILBOX: 'Bounces',
      BOUNCE_IMAP_PROCESSED_FOLDER: 'Bounces/Done',
      BOUNCE_IMAP_UNPARSED_FOLDER: 'Bounces/Look at these',
      BOUNCE_IMAP_ALLOW_PLAINTEXT: 'true',
    }).bounceMailbox;
    assert.deepEqual(
      { ...s },
      { host: 'mail.internal', port: 1143, secure: false, allowPlaintext: true, user: 'bounces', password: 'from-a-secret', mailbox: 'Bounces', processedFolder: 'Bounces/Done', unparsedFolder: 'Bounces/Look at these' },
    );
    assert.ok(Object.isFrozen(s), 'part of the frozen config');
  });

  it('names every bad variable', () => {
    assert.deepEqual(problems({ BOUNCE_IMAP_URL: 'https://imap.example.com' }), [['BOUNCE_IMAP_URL', 'must start with imap:// or imaps:// (got "https://…")']]);
    assert.match(problems({ BOUNCE_IMAP_URL: 'imaps://imap.example.com' })[0]!.join(' '), /^BOUNCE_IMAP_URL needs a host, a user name and a password/);
    assert.match(problems({ BOUNCE_IMAP_URL: 'imaps://u:%zz@imap.example.com' })[0]!.join(' '), /not valid percent-encoding/);
    assert.deepEqual(problems({ BOUNCE_IMAP_MAILBOX: 'Bounces' }), [['BOUNCE_IMAP_MAILBOX', 'has no effect without BOUNCE_IMAP_URL (imaps://user:password@imap.example.com)']]);
    assert.deepEqual(
      problems({ BOUNCE_IMAP_URL: 'imaps://u:p@imap.example.com', BOUNCE_IMAP_PROCESSED_FOLDER: 'Gazette/*', BOUNCE_IMAP_UNPARSED_FOLDER: 'INBOX', BOUNCE_IMAP_ALLOW_PLAINTEXT: 'maybe' }).map(([v]) => v),
      ['BOUNCE_IMAP_ALLOW_PLAINTEXT', 'BOUNCE_IMAP_PROCESSED_FOLDER', 'BOUNCE_IMAP_PROCESSED_FOLDER'],
    );
    assert.deepEqual(problems({ BOUNCE_IMAP_URL: 'imaps://u:p@imap.example.com', BOUNCE_IMAP_UNPARSED_FOLDER: 'A//B' }).map(([v]) => v), ['BOUNCE_IMAP_UNPARSED_FOLDER']);
  });

  it('never sends the password in cleartext unless allowed: STARTTLS is required for imap:// to another host', () => {
    const s = load({ BOUNCE_IMAP_URL: 'imap://u:p@imap.example.com' }).bounceMailbox!;
    assert.equal(imapOptions(s, 1000, 1000).doSTARTTLS, true);
    assert.equal(imapOptions({ ...s, allowPlaintext: true }, 1000, 1000).doSTARTTLS, undefined, 'opted in: upgrade when offered');
    assert.equal(imapOptions({ ...s, host: '127.0.0.1' }, 1000, 1000).doSTARTTLS, undefined, 'loopback never leaves the machine');
    const tls = imapOptions(load({ BOUNCE_IMAP_URL: 'imaps://u:p@imap.example.com' }).bounceMailbox!, 1000, 1000);
    assert.equal(tls.secure, true);
    assert.equal('doSTARTTLS' in tls, false);
  });

  it('reads the VERP address and delimiter, and names a bad one', () => {
    assert.equal(load({}).bounceVerp, undefined);
    assert.deepEqual({ ...load({ BOUNCE_VERP_ADDRESS: 'bounces@Bounce.Example.com' }).bounceVerp }, { localPart: 'bounces', domain: 'bounce.example.com', delimiter: '+' });
    assert.equal(load({ BOUNCE_VERP_ADDRESS: 'bounces@bounce.example.com', BOUNCE_VERP_DELIMITER: '-' }).bounceVerp?.delimiter, '-');
    assert.deepEqual(problems({ BOUNCE_VERP_ADDRESS: 'bounces+x@bounce.example.com' }).map(([v]) => v), ['BOUNCE_VERP_ADDRESS']);
    assert.deepEqual(problems({ BOUNCE_VERP_ADDRESS: 'Bounces <bounces@bounce.example.com>' }).map(([v]) => v), ['BOUNCE_VERP_ADDRESS']);
    assert.deepEqual(problems({ BOUNCE_VERP_ADDRESS: 'bounces@bounce.example.com', BOUNCE_VERP_DELIMITER: '=' }), [['BOUNCE_VERP_DELIMITER', 'must be + or - (got "=")']]);
    assert.deepEqual(problems({ BOUNCE_VERP_DELIMITER: '-' }).map(([v]) => v), ['BOUNCE_VERP_DELIMITER']);
  });

  it('the Settings page shows the mailbox and the return path, never the password', () => {
    const rows = (env: Record<string, string>) => describeSettings(load(env), 'smtp').smtp.filter((r) => r.variable.startsWith('BOUNCE_'));
    assert.deepEqual(rows({}).map((r) => r.value), ['off', 'off: the From address']);
    const on = rows({ BOUNCE_IMAP_URL: 'imaps://bounces:s3cret-pass@imap.example.com', BOUNCE_VERP_ADDRESS: 'bounces@bounce.example.com' });
    assert.deepEqual(on.map((r) => r.value), [
      'bounces at imap.example.com:993 (TLS), INBOX → Gazette/Processed, Gazette/Unparsed',
      'bounces+<token>@bounce.example.com',
    ]);
    assert.doesNotMatch(JSON.stringify(on), /s3cret/);
  });
});

