import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parseEnv } from 'node:util';
import { PROJECT_ROOT } from '../../src/lib/paths.js';

/**
 * Gazette's real entry points (the server, the CLI) in child processes, as an operator runs them. The
 * child gets only what a process needs, never the developer's Gazette settings: every key of a ./.env
 * file in the repository is blanked (empty means unset).
 */

const PASS_THROUGH = ['PATH', 'HOME', 'TMPDIR', 'TEMP', 'TMP', 'LANG', 'SYSTEMROOT', 'NODE_EXTRA_CA_CERTS'];

export function childEnv(env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of PASS_THROUGH) if (process.env[k] !== undefined) out[k] = process.env[k]!;
  const dotEnv = path.join(PROJECT_ROOT, '.env');
  if (existsSync(dotEnv)) for (const k of Object.keys(parseEnv(readFileSync(dotEnv, 'utf8')))) out[k] = '';
  return { ...out, ...env };
}

export interface GazetteProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function newestChange(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/**
 * How to run the server: the build (dist/server.js, what `npm start` and the image run) when it is at
 * least as new as every file in src/ and migrations/, which CI's build step makes sure of; it starts in a
 * quarter of the CPU time tsx needs to compile the sources. Otherwise the sources, under tsx.
 */
function serverArgs(root: string): string[] {
  const built = path.join(root, 'dist', 'server.js');
  if (existsSync(built)) {
    const builtAt = statSync(built).mtimeMs;
    if (builtAt >= newestChange(path.join(root, 'src')) && builtAt >= newestChange(path.join(root, 'migrations'))) return [built];
  }
  return ['--import', 'tsx', 'src/server.ts'];
}

/**
 * Runs the server, or `src/cli.ts` under tsx (as `npm run cli` does), with `args` and only `env` (plus the
 * basics). `root` is another copy of Gazette to run instead of this one (an older release).
 */
export function startGazette(entry: 'server' | 'cli', env: Record<string, string>, args: string[] = [], root = PROJECT_ROOT): GazetteProcess {
  const command = entry === 'server' ? serverArgs(root) : ['--import', 'tsx', 'src/cli.ts'];
  const child = spawn(process.execPath, [...command, ...args], { cwd: root, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, output: () => out, exited };
}

/** Runs a CLI command to its end. */
export async function runCli(env: Record<string, string>, args: string[]): Promise<{ code: number | null; output: string }> {
  const p = startGazette('cli', env, args);
  const { code } = await p.exited;
  return { code, output: p.output() };
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Waits until the server answers /healthz. A real process comes up in its own time, so this polls; a
 * process that exits first, or takes over `ms`, fails with its output.
 */
export async function waitHealthy(p: GazetteProcess, port: number, ms = 120_000): Promise<void> {
  let exited = false;
  void p.exited.then(() => (exited = true));
  const deadline = Date.now() + ms;
  while (!exited && Date.now() < deadline) {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
    if (res?.status === 200) return;
    await delay(100);
  }
  throw new Error(`the server on port ${port} did not become healthy${exited ? ' (it exited)' : ''}:\n${p.output().slice(-3000)}`);
}
