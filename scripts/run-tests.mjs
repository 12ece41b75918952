#!/usr/bin/env node
// Runs every test file under test/ (or the files/folders given) with node:test through tsx.
// Each file runs in its own process; files share nothing (fresh databases per test).
import { spawnSync } from 'node:child_process';
import { readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

function collect(target, out) {
  if (statSync(target).isDirectory()) {
    for (const entry of readdirSync(target).sort()) collect(path.join(target, entry), out);
  } else if (/\.test\.ts$/.test(target)) {
    out.push(target);
  }
  return out;
}

const args = process.argv.slice(2);
const targets = args.length > 0 ? args : ['test'];
const files = targets.flatMap((t) => collect(t, []));
if (files.length === 0) {
  console.error('no test files found in', targets.join(' '));
  process.exit(1);
}
// Browser journeys run the built server, as `npm start` does: build once before any of them.
if (files.some((f) => f.includes(`${path.sep}e2e${path.sep}`))) {
  rmSync(path.join('test-artifacts', 'e2e'), { recursive: true, force: true });
  const build = spawnSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
}
const concurrency = process.env.TEST_CONCURRENCY ?? String(Math.max(2, os.availableParallelism()));
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
