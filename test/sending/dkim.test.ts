import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { relaxedBody } from '../../src/sending/dkim.js';

/** RFC 6376 §3.4.4 written the plain way, to hold the optimised one to. */
function reference(body: string): string {
  const lines = body.split('\r\n');
  // A body not ending in CRLF has a last line without one; the split leaves '' after a final CRLF.
  const out = lines.map((l) => l.replace(/[ \t]+/g, ' ').replace(/ $/, ''));
  while (out.length > 0 && out[out.length - 1] === '') out.pop();
  return out.length === 0 ? '' : `${out.join('\r\n')}\r\n`;
}

describe('relaxed body canonicalization', () => {
  it('matches the RFC on the edge cases', () => {
    const cases: Array<[string, string]> = [
      ['', ''],
      ['\r\n', ''],
      ['\r\n\r\n\r\n', ''],
      ['a', 'a\r\n'],
      ['a\r\n', 'a\r\n'],
      ['a\r\n\r\n\r\n', 'a\r\n'],
      ['a b\r\n', 'a b\r\n'],
      ['a  b\r\n', 'a b\r\n'],
      ['a\t \tb \t\r\n', 'a b\r\n'],
      ['a \r\n \r\n', 'a\r\n'],
      ['a\r\n\r\nb', 'a\r\n\r\nb\r\n'],
      ['ends with a space ', 'ends with a space\r\n'],
      [' leading space\r\n', ' leading space\r\n'],
      ['lone\rcarriage\nreturns\r\n', 'lone\rcarriage\nreturns\r\n'],
    ];
    for (const [body, expected] of cases) {
      assert.equal(relaxedBody(body), expected, JSON.stringify(body));
      assert.equal(reference(body), expected, `reference: ${JSON.stringify(body)}`);
    }
  });

  it('agrees with the plain reading on random bodies, with and without whitespace to fold', () => {
    // A fixed-seed generator: the same bodies on every run.
    let seed = 42;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const plainPieces = ['word', 'x', ' ', '\r\n', '=\r\n', '<p>', 'é'];
    const allPieces = [...plainPieces, '  ', '\t', ' \r\n', '\r', '\n'];
    for (let i = 0; i < 3000; i++) {
      const pieces = i % 2 === 0 ? plainPieces : allPieces;
      let body = '';
      const n = Math.floor(next() * 40);
      for (let j = 0; j < n; j++) body += pieces[Math.floor(next() * pieces.length)];
      assert.equal(relaxedBody(body), reference(body), JSON.stringify(body));
    }
  });
});
