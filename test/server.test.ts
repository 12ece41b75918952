import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { PROJECT_ROOT } from '../src/lib/paths.js';

/**
 * The real entry point in a child process: what an operator runs. These tests wait on a real process,
 * so polling /healthz with a short interval is the honest way to see it come up.
 */

// The child gets only what a process needs to run, never the developer's Gazette settings; and every
// key of a ./.env file in the repository is blanked (empty means unset), so it cannot change the outcome.
const PASS_THROUGH = ['PATH', 'HOME', 'TMPDIR', 'TEMP', 'TMP', 'LANG', 'SYSTEMROOT', 'NODE_EXTRA_CA_CERTS'];

function childEnv(env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of PASS_THROUGH) if (process.env[k] !== undefined) out[k] = process.env[k]!;
  const dotEnv = path.join(PROJECT_ROOT, '.env');
  if (existsSync(dotEnv)) for (const k of Object.keys(parseEnv(readFileSync(dotEnv, 'utf8')))) out[k] = '';
  return { ...out, ...env };
}

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startServer(env: Record<string, string>): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: PROJECT_ROOT,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Waits for the process to end, killing it (and failing) after `ms`. */
async function exitWithin(run: Run, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const timeout = delay(ms, 'timeout' as const);
  const result = await Promise.race([run.exited, timeout]);
  if (result === 'timeout') {
    run.child.kill('SIGKILL');
    assert.fail(`the server did not exit within ${ms} ms\nstdout: ${run.stdout()}\nstderr: ${run.stderr()}`);
  }
  return result;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gazette-server-'));
  tempDirs.push(dir);
  return dir;
}

// Two at a time: each process spends a couple of CPU-seconds loading the app.
describe('the server process', { concurrency: 2 }, () => {
  after(() => {
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  });

  it('starts on the SQLite default, answers /healthz, and exits 0 on SIGTERM', async () => {
    const dataDir = tempDir();
    const port = await freePort();
    const run = startServer({ PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'info', TRUST_PROXY: 'true' });
    try {
      // Generous: loading the app takes a while on a busy CI machine; a healthy start ends the loop at once.
      const deadline = Date.now() + 60_000;
      let health: Response | undefined;
      let exitedEarly = false;
      void run.exited.then(() => (exitedEarly = true));
      while (Date.now() < deadline && !exitedEarly) {
        health = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
        if (health?.status === 200) break;
        await delay(50);
      }
      assert.equal(health?.status, 200, `the server came up\nstdout: ${run.stdout()}\nstderr: ${run.stderr()}`);
      assert.deepEqual(await health!.json(), { status: 'ok', db: 'ok' });

      // First run: the database and a generated secret appear in DATA_DIR, with a warning about the secret.
      assert.ok(existsSync(path.join(dataDir, 'gazette.db')), 'the SQLite file was created');
      const secret = readFileSync(path.join(dataDir, 'secret.key'), 'utf8').trim();
      assert.match(secret, /^[0-9a-f]{64}$/);
      assert.match(run.stdout(), /SECRET_KEY is not set: generated one/);
      assert.match(run.stdout(), /dev outbox/);
      assert.match(run.stdout(), /"level":40,[^\n]*TRUST_PROXY=true believes the X-Forwarded-For header of every client/);

      // A real page through the real stack: first run leads to setup.
      const root = await fetch(`http://127.0.0.1:${port}/`, { redirect: 'manual' });
      assert.equal(root.status, 303);
      assert.equal(root.headers.get('location'), '/setup');

      run.child.kill('SIGTERM');
      const { code, signal } = await exitWithin(run, 10_000);
      assert.equal(signal, null);
      assert.equal(code, 0, `clean exit\nstdout: ${run.stdout()}\nstderr: ${run.stderr()}`);
      assert.equal(run.stderr(), '');
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  const failures: Array<[string, Record<string, string>, string[]]> = [
    ['an unparseable PORT', { PORT: 'abc' }, ['PORT']],
    ['a DATABASE_URL with an unknown scheme', { DATABASE_URL: 'mysql://x' }, ['DATABASE_URL']],
    ['an unreachable Postgres', { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none', DATABASE_CONNECT_TIMEOUT: '0' }, ['DATABASE_URL']],
    [
      'several bad variables at once',
      { PORT: 'abc', DATABASE_URL: 'mysql://x', LOG_LEVEL: 'loud', SECRET_KEY: 'short', SMTP_URL: 'ftp://relay' },
      ['PORT', 'DATABASE_URL', 'LOG_LEVEL', 'SECRET_KEY', 'SMTP_URL'],
    ],
  ];
  for (const [name, env, variables] of failures) {
    it(`exits 1 naming the variable for ${name}`, async () => {
      const run = startServer({ DATA_DIR: tempDir(), ...env });
      try {
        const { code } = await exitWithin(run, 60_000);
        assert.equal(code, 1, `stdout: ${run.stdout()}\nstderr: ${run.stderr()}`);
        const stderr = run.stderr();
        assert.match(stderr, /^Gazette cannot start; fix these settings:/);
        for (const variable of variables) assert.match(stderr, new RegExp(`^  ${variable}: `, 'm'), `stderr names ${variable}: ${stderr}`);
        assert.doesNotMatch(stderr, /\n\s+at /, 'a settings problem is not shown as a stack trace');
      } finally {
        run.child.kill('SIGKILL');
      }
    });
  }
});
