import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { startEnv, startNodeOptions } from '../scripts/start-command.js';
import { PROJECT_ROOT } from '../src/lib/paths.js';

/**
 * `npm start` and the image start the same server with the same Node options (the benchmark and the
 * browser journeys take theirs from the start script, so they measure and test what operators run).
 */
describe('the start command', () => {
  it('is the same in package.json and in the image', () => {
    const dockerfile = readFileSync(path.join(PROJECT_ROOT, 'Dockerfile'), 'utf8');
    const cmd = /^CMD (\[.*\])$/m.exec(dockerfile);
    assert.ok(cmd, 'the Dockerfile has an exec-form CMD');
    assert.deepEqual(JSON.parse(cmd[1]!), ['node', ...startNodeOptions(), 'dist/server.js']);
    // The image's ENV sets what the start script sets before `node`.
    const env = /^ENV ((?:.*\\\n)*.*)$/m.exec(dockerfile)?.[1] ?? '';
    for (const [name, value] of Object.entries(startEnv())) assert.match(env, new RegExp(`(^|\\s)${name}=${value}(\\s|$)`), `ENV ${name}=${value} in the Dockerfile`);
  });

  it('keeps glibc to two malloc arenas (peak memory of an import and a send; bench/RESULTS.md)', () => {
    assert.deepEqual(startEnv(), { MALLOC_ARENA_MAX: '2' });
  });

  it('keeps the main thread’s young generation small (peak memory of a big send; bench/RESULTS.md)', () => {
    assert.ok(startNodeOptions().some((o) => /^--max-semi-space-size=\d+$/.test(o)), startNodeOptions().join(' '));
  });

  it('runs V8 in memory-saver mode without Maglev (13 MB less at the peak of a big send; bench/RESULTS.md)', () => {
    for (const flag of ['--memory-saver-mode', '--no-maglev']) assert.ok(startNodeOptions().includes(flag), `${flag} in ${startNodeOptions().join(' ')}`);
  });
});
