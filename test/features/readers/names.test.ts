import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalAddress, cleanName } from '../../../src/features/readers/names.js';

describe('cleanName', () => {
  it('keeps ordinary names, accents and initials', () => {
    assert.equal(cleanName('  Zoë   Müller '), 'Zoë Müller');
    assert.equal(cleanName('J.R.R. Tolkien'), 'J.R.R. Tolkien');
    assert.equal(cleanName("Seán O'Brien-Smith"), "Seán O'Brien-Smith");
  });
  it('strips links, domains, addresses and markup', () => {
    assert.equal(cleanName('Win $$$ at http://spam.example/x now'), 'Win $$$ at now');
    assert.equal(cleanName('visit www.pills.biz'), 'visit');
    assert.equal(cleanName('cheap-pills.biz'), '');
    assert.equal(cleanName('<a href="https://x.test">click</a>'), 'click');
    assert.equal(cleanName('<script>alert(1)</script>Bob'), 'alert(1) Bob');
    assert.equal(cleanName('mail me at a@b.example'), 'mail me at');
    assert.equal(cleanName('line\r\nBcc: victim@x.test'), 'line Bcc:');
  });
  it('caps the length', () => {
    assert.equal(cleanName('a'.repeat(500)).length, 100);
  });
});

describe('canonicalAddress', () => {
  it('folds case, +tags and Gmail dots so variants share one rate-limit budget', () => {
    assert.equal(canonicalAddress('A.B+news@Gmail.com'), 'ab@gmail.com');
    assert.equal(canonicalAddress('ab@googlemail.com'), 'ab@gmail.com');
    assert.equal(canonicalAddress('first.last+x@example.com'), 'first.last@example.com');
  });
});
