import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isValidEmail, normalizeEmail } from '../../../src/lib/email.js';
import { emailHash } from '../../../src/domain/suppressions.js';

describe('address syntax with internationalised domains', () => {
  it('accepts Unicode and punycode domains and stores the ASCII form', () => {
    const cases: [string, string][] = [
      ['Anna@Müller.de', 'anna@xn--mller-kva.de'],
      ['ivan@пример.рф', 'ivan@xn--e1afmkfd.xn--p1ai'],
      ['user@xn--80ak6aa92e.xn--p1ai', 'user@xn--80ak6aa92e.xn--p1ai'],
      ['a@xn--mller-kva.de', 'a@xn--mller-kva.de'],
      ['  Plain@Example.COM ', 'plain@example.com'],
    ];
    for (const [typed, stored] of cases) {
      assert.equal(isValidEmail(typed.trim()), true, typed);
      assert.equal(normalizeEmail(typed), stored);
      assert.equal(isValidEmail(stored), true, stored);
    }
  });

  it('one stored form: the Unicode and the punycode spelling are the same subscriber and suppression', () => {
    assert.equal(normalizeEmail('a@müller.de'), normalizeEmail('A@XN--MLLER-KVA.DE'));
    assert.equal(emailHash('a@müller.de'), emailHash('a@xn--mller-kva.de'));
  });

  it('refuses what must never reach a relay or a header', () => {
    const bad = [
      'no-at-sign',
      'a@b.c',
      'a@exa mple.com',
      'a@exam/ple.com',
      '"quoted"@example.com',
      'a@[192.0.2.1]',
      'a@example.com\r\nBcc: x@example.com',
      'a@-dash.com',
      'a@under_score.com',
      'müller@example.com',
      `${'a'.repeat(65)}@example.com`,
      `a@${'b'.repeat(250)}.com`,
      'a@example.123',
    ];
    for (const input of bad) assert.equal(isValidEmail(input), false, input);
  });

  it('keeps the 64-character local part and 254-character address limits', () => {
    assert.equal(isValidEmail(`${'a'.repeat(64)}@example.com`), true);
    const domain = `${'d'.repeat(60)}.${'e'.repeat(60)}.${'f'.repeat(60)}.${'g'.repeat(50)}.com`;
    assert.equal(isValidEmail(`a@${domain}`), true);
    assert.equal(isValidEmail(`${'a'.repeat(64)}@${domain}`), false);
  });
});
