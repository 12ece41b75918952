import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { PROJECT_ROOT } from '../../src/lib/paths.js';

/**
 * The bundles `npm start` and the image run (built by scripts/run-tests.mjs before any file here) are
 * ASCII: one character outside Latin-1, even in a comment, makes V8 keep a whole bundle's source two
 * bytes a character for the life of the process (scripts/bundle.mjs).
 */
describe('the built bundles', () => {
  it('are ASCII, so V8 keeps their source one byte a character', () => {
    const dist = path.join(PROJECT_ROOT, 'dist');
    const bundles = readdirSync(dist).filter((f) => f.endsWith('.js'));
    assert.ok(bundles.includes('server.js'), `the server bundle is built: ${bundles.join(', ')}`);
    for (const file of bundles) {
      const text = readFileSync(path.join(dist, file), 'utf8');
      const at = text.search(/[^\x00-\x7f]/);
      assert.equal(at, -1, `${file} has a non-ASCII character at ${at}: …${text.slice(Math.max(0, at - 40), at + 10)}…`);
    }
  });
});
