import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, configWarnings, loadConfig, type ConfigProblem } from '../src/config.js';

const CWD = path.resolve('/srv/gazette');

/** The problems loadConfig reports for `env`; fails the test when it does not throw a ConfigError. */
function problemsOf(env: Record<string, string>): ConfigProblem[] {
  try {
    loadConfig(env, CWD);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail(`expected ${JSON.stringify(env)} to be refused`);
}

function variablesOf(env: Record<string, string>): string[] {
  return problemsOf(env).map((p) => p.variable).sort();
}

describe('loadConfig', () => {
  it('has working defaults for an empty environment', () => {
    const config = loadConfig({}, CWD);
    assert.equal(config.port, 3000);
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.baseUrl, 'http://localhost:3000');
    assert.equal(config.secureCookies, false);
    assert.equal(config.dataDir, path.join(CWD, 'data'));
    assert.deepEqual(config.database, { kind: 'sqlite', file: path.join(CWD, 'data', 'gazette.db') });
    assert.equal(config.databaseConnectTimeoutMs, 30_000);
    assert.equal(config.secretKey, undefined);
    assert.equal(config.smtp, undefined);
    assert.equal(config.dkim, undefined);
    assert.equal(config.smtpPoolSize, 10);
    assert.equal(config.sendRate, undefined);
    assert.equal(config.logLevel, 'info');
    assert.equal(config.trustProxy, false);
    assert.equal(config.mailFrom, 'Gazette <gazette@localhost.localdomain>');
  });

  it('treats empty and blank variables as unset', () => {
    const config = loadConfig({ PORT: '', HOST: '   ', SMTP_URL: '', DATABASE_URL: ' ' }, CWD);
    assert.equal(config.port, 3000);
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.smtp, undefined);
    assert.equal(config.database.kind, 'sqlite');
  });

  it('derives the base URL from PORT and the sender from BASE_URL', () => {
    assert.equal(loadConfig({ PORT: '8080' }, CWD).baseUrl, 'http://localhost:8080');
    const config = loadConfig({ BASE_URL: 'https://news.example.com/' }, CWD);
    assert.equal(config.baseUrl, 'https://news.example.com');
    assert.equal(config.secureCookies, true);
    assert.equal(config.mailFrom, 'Gazette <gazette@news.example.com>');
  });

  it('resolves DATA_DIR and sqlite: URLs against the working directory', () => {
    const config = loadConfig({ DATA_DIR: 'var/gz', DATABASE_URL: 'sqlite:db/main.db' }, CWD);
    assert.equal(config.dataDir, path.join(CWD, 'var/gz'));
    assert.deepEqual(config.database, { kind: 'sqlite', file: path.join(CWD, 'db/main.db') });
    assert.deepEqual(loadConfig({ DATA_DIR: 'var/gz' }, CWD).database, { kind: 'sqlite', file: path.join(CWD, 'var/gz/gazette.db') });
    assert.deepEqual(loadConfig({ DATABASE_URL: 'sqlite::memory:' }, CWD).database, { kind: 'sqlite', file: ':memory:' });
  });

  it('accepts postgres:// and postgresql:// URLs as they are', () => {
    const url = 'postgres://gazette:p%40ss@db.internal:5433/news?sslmode=require';
    assert.deepEqual(loadConfig({ DATABASE_URL: url }, CWD).database, { kind: 'postgres', url });
    const url2 = 'postgresql://gazette@db/news';
    assert.deepEqual(loadConfig({ DATABASE_URL: url2 }, CWD).database, { kind: 'postgres', url: url2 });
    assert.equal(loadConfig({ DATABASE_CONNECT_TIMEOUT: '0', DATABASE_URL: url }, CWD).databaseConnectTimeoutMs, 0);
  });

  it('parses SMTP_URL, decoding the user name and password', () => {
    const smtp = loadConfig({ SMTP_URL: 'smtp://news%40example.com:p%40ss%3Aw%2Frd@smtp.example.com:2525' }, CWD).smtp;
    assert.deepEqual(smtp, { host: 'smtp.example.com', port: 2525, secure: false, user: 'news@example.com', password: 'p@ss:w/rd' });
    const plain = loadConfig({ SMTP_URL: 'smtp://relay.example.com' }, CWD).smtp;
    assert.deepEqual(plain, { host: 'relay.example.com', port: 587, secure: false, user: undefined, password: undefined });
  });

  it('treats smtps:// as implicit TLS on port 465', () => {
    const smtp = loadConfig({ SMTP_URL: 'smtps://u:pw@smtp.example.com' }, CWD).smtp;
    assert.deepEqual(smtp, { host: 'smtp.example.com', port: 465, secure: true, user: 'u', password: 'pw' });
    assert.equal(loadConfig({ SMTP_URL: 'smtps://smtp.example.com:2465' }, CWD).smtp?.port, 2465);
  });

  it('builds the SMTP settings from SMTP_HOST and friends', () => {
    const smtp = loadConfig({ SMTP_HOST: 'mail.example.com', SMTP_PORT: '465', SMTP_USER: 'me', SMTP_PASSWORD: 'secret' }, CWD).smtp;
    assert.deepEqual(smtp, { host: 'mail.example.com', port: 465, secure: true, user: 'me', password: 'secret' });
    const starttls = loadConfig({ SMTP_HOST: 'mail.example.com' }, CWD).smtp;
    assert.deepEqual(starttls, { host: 'mail.example.com', port: 587, secure: false, user: undefined, password: undefined });
  });

  it('accepts a complete DKIM setting and a PEM written on one line', () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const config = loadConfig({ DKIM_DOMAIN: 'example.com', DKIM_SELECTOR: 'gz', DKIM_PRIVATE_KEY: pem.trim().replace(/\n/g, '\\n') }, CWD);
    assert.deepEqual(config.dkim, { domain: 'example.com', selector: 'gz', privateKey: pem.trim() });
  });

  it('accepts TRUST_PROXY=true with a warning, and hop counts or proxy addresses without one', () => {
    const open = loadConfig({ TRUST_PROXY: 'true' }, CWD);
    assert.equal(open.trustProxy, true);
    const [warning, ...rest] = configWarnings(open);
    assert.equal(rest.length, 0);
    assert.match(warning!, /^TRUST_PROXY=true believes the X-Forwarded-For header of every client/);
    assert.match(warning!, /number of proxies in front of Gazette/);
    for (const [value, parsed] of [['1', 1], ['10.0.0.2, 172.16.0.0/12', ['10.0.0.2', '172.16.0.0/12']], ['false', false]] as const) {
      const config = loadConfig({ TRUST_PROXY: value }, CWD);
      assert.deepEqual(config.trustProxy, parsed);
      assert.deepEqual(configWarnings(config), [], value);
    }
    assert.deepEqual(configWarnings(loadConfig({}, CWD)), []);
  });

  it('returns a deeply frozen object', () => {
    const config = loadConfig({ SMTP_URL: 'smtp://u:pw@smtp.example.com', TRUST_PROXY: '10.0.0.1,10.0.0.2' }, CWD);
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.database));
    assert.ok(Object.isFrozen(config.smtp));
    assert.ok(Object.isFrozen(config.trustProxy));
    assert.throws(() => {
      (config as { port: number }).port = 1;
    }, TypeError);
    assert.throws(() => {
      (config.smtp as { host: string }).host = 'evil.example.com';
    }, TypeError);
    assert.equal(config.smtp?.host, 'smtp.example.com');
  });

  describe('names each bad variable', () => {
    const cases: Array<[string, Record<string, string>, string[], RegExp?]> = [
      ['an unparseable PORT', { PORT: 'abc' }, ['PORT'], /whole number from 1 to 65535 \(got "abc"\)/],
      ['PORT 0', { PORT: '0' }, ['PORT']],
      ['PORT out of range', { PORT: '70000' }, ['PORT']],
      ['DATABASE_URL with an unknown scheme', { DATABASE_URL: 'mysql://u:hunter2@x/db' }, ['DATABASE_URL'], /unknown scheme/],
      ['a postgres URL without a host', { DATABASE_URL: 'postgres://' }, ['DATABASE_URL']],
      ['an SMTP_URL that is not a URL', { SMTP_URL: 'not a url' }, ['SMTP_URL']],
      ['an SMTP_URL with another scheme', { SMTP_URL: 'http://smtp.example.com' }, ['SMTP_URL'], /smtp:\/\/ or smtps:\/\//],
      ['an SMTP_URL with a stray % in the password', { SMTP_URL: 'smtp://u:100%@smtp.example.com' }, ['SMTP_URL'], /percent-encoding/],
      ['SMTP_URL and SMTP_HOST together', { SMTP_URL: 'smtp://a.example.com', SMTP_HOST: 'b.example.com' }, ['SMTP_URL'], /not both/],
      ['SMTP_USER without SMTP_HOST', { SMTP_USER: 'me' }, ['SMTP_USER']],
      ['DKIM_DOMAIN alone', { DKIM_DOMAIN: 'example.com' }, ['DKIM_PRIVATE_KEY', 'DKIM_SELECTOR'], /required when any DKIM_/],
      ['a DKIM key that is not PEM', { DKIM_DOMAIN: 'example.com', DKIM_SELECTOR: 'gz', DKIM_PRIVATE_KEY: 'nope' }, ['DKIM_PRIVATE_KEY']],
      ['a bad LOG_LEVEL', { LOG_LEVEL: 'loud' }, ['LOG_LEVEL'], /must be one of fatal, error, warn, info, debug, trace, silent/],
      ['a short SECRET_KEY', { SECRET_KEY: 'tooshort' }, ['SECRET_KEY'], /at least 32 characters/],
      ['a BASE_URL that is not a URL', { BASE_URL: 'news.example.com' }, ['BASE_URL']],
      ['a BASE_URL with another scheme', { BASE_URL: 'ftp://news.example.com' }, ['BASE_URL'], /http:\/\/ or https:\/\//],
      ['a BASE_URL with a query', { BASE_URL: 'https://news.example.com/?a=1' }, ['BASE_URL']],
      ['a bad MAIL_FROM', { MAIL_FROM: 'Gazette <not an address>' }, ['MAIL_FROM'], /must be an address/],
      ['a MAIL_FROM with a line break', { MAIL_FROM: 'a@example.com\r\nBcc: x@example.com' }, ['MAIL_FROM']],
      ['a bad SMTP_POOL_SIZE', { SMTP_POOL_SIZE: '0' }, ['SMTP_POOL_SIZE']],
      ['a bad SEND_RATE', { SEND_RATE: '-3' }, ['SEND_RATE']],
      ['a bad SMTP_SECURE', { SMTP_HOST: 'h.example.com', SMTP_SECURE: 'maybe' }, ['SMTP_SECURE']],
      ['a bad TRUST_PROXY', { TRUST_PROXY: 'everyone' }, ['TRUST_PROXY']],
    ];
    for (const [name, env, expected, message] of cases) {
      it(name, () => {
        const problems = problemsOf(env);
        assert.deepEqual(problems.map((p) => p.variable).sort(), expected);
        if (message) assert.match(problems[0]!.message, message);
      });
    }
  });

  it('never repeats a password from DATABASE_URL in its message', () => {
    const [problem] = problemsOf({ DATABASE_URL: 'mysql://u:hunter2@x/db' });
    assert.doesNotMatch(problem!.message, /hunter2/);
  });

  it('lists every bad variable in one ConfigError, each on its own line', () => {
    const env = {
      PORT: 'abc',
      DATABASE_URL: 'mysql://x',
      SMTP_URL: 'ftp://x',
      LOG_LEVEL: 'loud',
      SECRET_KEY: 'short',
      BASE_URL: 'nope',
      MAIL_FROM: 'nobody',
      DKIM_SELECTOR: 'gz',
    };
    let error: unknown;
    try {
      loadConfig(env, CWD);
    } catch (err) {
      error = err;
    }
    assert.ok(error instanceof ConfigError);
    const expected = ['BASE_URL', 'DATABASE_URL', 'DKIM_DOMAIN', 'DKIM_PRIVATE_KEY', 'LOG_LEVEL', 'MAIL_FROM', 'PORT', 'SECRET_KEY', 'SMTP_URL'];
    assert.deepEqual(error.problems.map((p) => p.variable).sort(), expected);
    for (const variable of expected) assert.match(error.message, new RegExp(`^  ${variable}: `, 'm'));
    assert.deepEqual(variablesOf({ PORT: 'x', SMTP_PORT: 'y' }), ['PORT', 'SMTP_PORT']);
  });
});
