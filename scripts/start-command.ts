// The Node options of `npm start` (package.json's "start" script, `node <options> dist/server.js`), for
// everything that runs the built server the way an operator does: the benchmark's server and sending
// processes and the browser journeys. The image's CMD carries the same options (test/start-command.test.ts).
import { readFileSync } from 'node:fs';

const PACKAGE_JSON = new URL('../package.json', import.meta.url);

/** The options between `node` and the script in the start script, e.g. ['--max-semi-space-size=2']. */
export function startNodeOptions(): string[] {
  const start = (JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { scripts: { start: string } }).scripts.start;
  const words = start.trim().split(/\s+/);
  if (words[0] !== 'node' || words.at(-1) !== 'dist/server.js') throw new Error(`unexpected start script: ${start}`);
  return words.slice(1, -1);
}
