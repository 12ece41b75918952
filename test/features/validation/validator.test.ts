import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import dns2 from 'dns2';
import { createMailDomainChecker } from '../../../src/features/validation/dns-check.js';
import { suggestAddress } from '../../../src/features/validation/typos.js';
import { createEmailValidator, type EmailPolicy } from '../../../src/features/validation/validator.js';
import { FakeClock } from '../../helpers/clock.js';
import { STANDARD_ZONES, startDnsServer, type TestDnsServer } from './dns-server.js';

/** Answered lookups never wait for it; only the silent server's test uses the small budget. */
const BUDGET_MS = 5000;
const SILENT_BUDGET_MS = 100;

describe('typo suggestions', () => {
  it('suggests a large provider for a slip, never anything for correct or unknown domains', () => {
    const pairs: [string, string][] = [
      ['bob@gmial.com', 'bob@gmail.com'],
      ['bob@gnail.com', 'bob@gmail.com'],
      ['bob@hotmial.com', 'bob@hotmail.com'],
      ['bob@gmail.con', 'bob@gmail.com'],
      ['bob@outlok.com', 'bob@outlook.com'],
      ['bob@icloud.co', 'bob@icloud.com'],
    ];
    for (const [typed, expected] of pairs) assert.equal(suggestAddress(typed), expected, typed);
    for (const fine of ['bob@gmail.com', 'bob@example.com', 'bob@gmx.de', 'bob@web.de', 'bob@yahoo.co.uk', 'bob@good.test', 'bob@gazette.test', 'bob@xn--mller-kva.de', 'bob@x.com', 'bob@qq.co']) {
      assert.equal(suggestAddress(fine), undefined, fine);
    }
  });

  it('never questions a domain the operator trusts', () => {
    assert.equal(suggestAddress('bob@gmai.com'), 'bob@gmail.com');
    assert.equal(suggestAddress('bob@gmai.com', ['gmai.com']), undefined);
  });
});

describe('the validator against a DNS server on loopback', () => {
  let server: TestDnsServer;
  let clock: FakeClock;
  let policy: EmailPolicy;
  const make = (enabled = true, timeoutMs = BUDGET_MS) => {
    const domains = createMailDomainChecker({ clock, enabled, timeoutMs, servers: [server.address] });
    return { domains, validator: createEmailValidator({ policy: () => policy, blockedByConfig: ['spam.example'], domains }) };
  };

  before(async () => {
    server = await startDnsServer(STANDARD_ZONES);
  });
  after(() => server.close());

  it('MX, A-only, null MX, no mail host, NXDOMAIN, SERVFAIL and silence each get their outcome', async () => {
    clock = new FakeClock();
    policy = { disposable: 'reject', allowedDomains: [], blockedDomains: [] };
    const { validator } = make();
    const outcome = async (email: string) => {
      const c = await validator.check(email);
      return c.kind === 'ok' ? (c.unverified ? 'unverified' : 'ok') : c.kind === 'refused' ? c.reason : c.kind;
    };
    assert.equal(await outcome('a@good.test'), 'ok');
    assert.equal(await outcome('a@aonly.test'), 'ok', 'an A record is the implicit MX (RFC 5321 §5.1)');
    assert.equal(await outcome('a@nullmx.test'), 'null_mx');
    assert.equal(await outcome('a@nomail.test'), 'null_mx', 'neither MX nor address: no mail');
    assert.equal(await outcome('a@nx.test'), 'no_domain');
    assert.equal(await outcome('a@servfail.test'), 'unverified');
    assert.equal(await outcome('a@müller.test'), 'ok', 'the IDN domain is looked up in its ASCII form');
    const refusal = await validator.check('a@nx.test');
    assert.equal(refusal.kind === 'refused' && refusal.message, 'The domain nx.test does not exist. Please check the part after the @.');
  });

  it('a silent server: the sign-up goes through unverified once the budget is spent', async () => {
    clock = new FakeClock();
    policy = { disposable: 'reject', allowedDomains: [], blockedDomains: [] };
    const { validator } = make(true, SILENT_BUDGET_MS);
    const c = await validator.check('a@slow.test');
    assert.equal(c.kind === 'ok' && c.unverified, true);
  });

  it('answers from the cache within the TTL, and asks again after it', async () => {
    clock = new FakeClock();
    policy = { disposable: 'reject', allowedDomains: [], blockedDomains: [] };
    const { validator } = make();
    const before = server.queryCount('good.test');
    await validator.check('one@good.test');
    await validator.check('two@good.test');
    await Promise.all([validator.check('three@aonly.test'), validator.check('four@aonly.test')]);
    assert.equal(server.queryCount('good.test') - before, 1, 'one MX query for two sign-ups');
    clock.advance(61 * 60_000);
    await validator.check('five@good.test');
    assert.equal(server.queryCount('good.test') - before, 2);
  });

  it('bulk: each distinct domain is asked once', async () => {
    clock = new FakeClock();
    policy = { disposable: 'reject', allowedDomains: [], blockedDomains: [] };
    const { validator, domains } = make();
    const emails = Array.from({ length: 300 }, (_, i) => `r${i}@${['good.test', 'aonly.test', 'nx.test', 'nullmx.test', 'gmail.com'][i % 5]}`);
    const checks = await validator.checkMany(emails, 4);
    assert.equal(checks.filter((c) => c.kind === 'refused').length, 120);
    assert.equal(domains.lookups, 4, 'four domains looked up, gmail.com skipped as a known provider');
  });

  it('disposable domains: refused, held or allowed as the policy says; an allow-listed domain passes', async () => {
    clock = new FakeClock();
    policy = { disposable: 'reject', allowedDomains: [], blockedDomains: [] };
    const { validator } = make(false);
    const a = await validator.check('a@mailinator.com');
    assert.equal(a.kind === 'refused' && a.code, 'email_disposable');
    const sub = await validator.check('a@sub.mailinator.com');
    assert.equal(sub.kind === 'refused' && sub.reason, 'disposable');
    policy = { disposable: 'hold', allowedDomains: [], blockedDomains: [] };
    const held = await validator.check('a@mailinator.com');
    assert.equal(held.kind === 'ok' && held.hold, 'disposable');
    policy = { disposable: 'reject', allowedDomains: ['mailinator.com'], blockedDomains: [] };
    const allowed = await validator.check('a@mailinator.com');
    assert.equal(allowed.kind === 'ok' && allowed.hold, undefined);
  });

  it('blocked domains from the environment and from the settings page', async () => {
    clock = new FakeClock();
    policy = { disposable: 'reject', allowedDomains: [], blockedDomains: ['rival.example'] };
    const { validator } = make(false);
    for (const email of ['a@spam.example', 'a@x.spam.example', 'a@rival.example']) {
      const c = await validator.check(email);
      assert.equal(c.kind === 'refused' && c.code, 'email_blocked', email);
    }
  });

  it('a typo is offered, and "keep what I typed" passes', async () => {
    clock = new FakeClock();
    policy = { disposable: 'reject', allowedDomains: [], blockedDomains: [] };
    const { validator } = make(false);
    const typo = await validator.check('anna@gnail.com');
    assert.equal(typo.kind === 'typo' && typo.suggestion, 'anna@gmail.com');
    assert.equal((await validator.check('anna@gnail.com', { acceptTypo: true })).kind, 'ok');
    // gmial.com is a known typo trap on the disposable list: offered the correction, and refused if kept.
    const trap = await validator.check('anna@gmial.com');
    assert.equal(trap.kind === 'typo' && trap.suggestion, 'anna@gmail.com');
    assert.equal((await validator.check('anna@gmial.com', { acceptTypo: true })).kind, 'refused');
  });

  it('a non-ASCII local part is refused in words', async () => {
    clock = new FakeClock();
    policy = { disposable: 'reject', allowedDomains: [], blockedDomains: [] };
    const { validator } = make(false);
    const c = await validator.check('jörg@example.com');
    assert.match(c.kind === 'refused' ? c.message : '', /before the @/);
  });

  it('a resolver that dns2 cannot reach is no reason to refuse anyone', async () => {
    clock = new FakeClock();
    const quiet = dns2.createServer({ udp: true, handle: () => {} });
    const addresses = await quiet.listen({ udp: { port: 0, address: '127.0.0.1' } });
    const domains = createMailDomainChecker({ clock, enabled: true, timeoutMs: SILENT_BUDGET_MS, servers: [`127.0.0.1:${addresses.udp!.port}`] });
    assert.equal(await domains.check('anything.test'), 'unverified');
    await quiet.close();
  });
});
