import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { relayIdOf } from '../../../src/lib/relay-id.js';
import { verpDeliveryId, verpToken } from '../../../src/lib/verp.js';

describe('the relay id in an SMTP answer', () => {
  it('reads the forms relays answer with', () => {
    const cases: Array<[string, string | null]> = [
      ['250 Ok 0100018c2a1b2c3d-4e5f6a7b-8c9d-0e1f-2a3b-4c5d6e7f8a9b-000000', '0100018c2a1b2c3d-4e5f6a7b-8c9d-0e1f-2a3b-4c5d6e7f8a9b-000000'],
      ['250 2.0.0 Ok: queued as 4T1x2Y3z4Q', '4T1x2Y3z4Q'],
      ['250 Ok: queued as Ki2vVhn7SDmFyVb5WeD3jQ', 'Ki2vVhn7SDmFyVb5WeD3jQ'],
      ['250 2.0.0 OK: queued as <202612070101.12345678@smtp-relay.mailin.fr>', '202612070101.12345678@smtp-relay.mailin.fr'],
      ['250 2.0.0 OK id=1vQx2a-0003bC-9k', '1vQx2a-0003bC-9k'],
      ['250 Great success', null],
      ['250 2.0.0 Message accepted for delivery', null],
      ['', null],
    ];
    for (const [answer, id] of cases) assert.equal(relayIdOf(answer), id, answer);
  });
});

describe('VERP tokens', () => {
  it('round-trip a delivery id, and refuse a forged or malformed token', () => {
    const token = verpToken(123456, 'secret');
    assert.match(token, /^[0-9a-z]+\.[0-9a-f]{8}$/);
    assert.equal(verpDeliveryId(token, 'secret'), 123456);
    assert.equal(verpDeliveryId(token.toUpperCase(), 'secret'), 123456, 'a receiver that upper-cases the local part');
    assert.equal(verpDeliveryId(token, 'another secret'), null);
    assert.equal(verpDeliveryId(`${(123457).toString(36)}.${token.split('.')[1]}`, 'secret'), null);
    for (const bad of ['', 'abc', 'zzzzzzzz.00000000', '1.2.3']) assert.equal(verpDeliveryId(bad, 'secret'), null, bad);
  });
});
