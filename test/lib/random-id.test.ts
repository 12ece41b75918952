import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomId } from '../../src/lib/tokens.js';

test('request ids are 12 hex digits, all different across several refills of the random pool', () => {
  const ids = Array.from({ length: 5000 }, () => randomId());
  for (const id of ids) assert.match(id, /^[0-9a-f]{12}$/);
  assert.equal(new Set(ids).size, ids.length);
  // Random, not a counter: neighbours share no long common prefix as a sequence would.
  const shared = ids.slice(1).filter((id, i) => id.slice(0, 6) === ids[i]!.slice(0, 6)).length;
  assert.ok(shared < 5, `${shared} neighbours share their first six digits`);
});
