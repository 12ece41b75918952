// The Node options and environment of `npm start` (package.json's "start" script,
// `NAME=value node <options> dist/server.js`), for everything that runs the built server the way an
// operator does: the benchmark's server and sending processes and the browser journeys. The image's CMD
// and ENV carry the same (test/start-command.test.ts).
import { readFileSync } from 'node:fs';

const PACKAGE_JSON = new URL('../package.json', import.meta.url);

function startWords(): { env: string[]; node: string[] } {
  const start = (JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { scripts: { start: string } }).scripts.start;
  const words = start.trim().split(/\s+/);
  const at = words.indexOf('node');
  const env = words.slice(0, Math.max(0, at));
  if (at < 0 || words.at(-1) !== 'dist/server.js' || !env.every((w) => /^[A-Z_]+=\S+$/.test(w))) throw new Error(`unexpected start script: ${start}`);
  return { env, node: words.slice(at + 1, -1) };
}

/** The options between `node` and the script in the start script, e.g. ['--max-semi-space-size=2']. */
export function startNodeOptions(): string[] {
  return startWords().node;
}

/** The variables the start script sets before `node`, e.g. { MALLOC_ARENA_MAX: '2' }. */
export function startEnv(): Record<string, string> {
  return Object.fromEntries(startWords().env.map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]));
}
