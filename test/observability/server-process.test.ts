import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { PROJECT_ROOT } from '../../src/lib/paths.js';
import { createTestDb } from '../helpers/db.js';
import { startSmtpServer } from '../helpers/smtp-server.js';
import { addReaders, makeNewsletter, makePost } from '../sending/fixtures.js';
import { startFakeSentry } from './fake-sentry.js';

/**
 * The real entry point in a child process, preloaded with a module spy: the Sentry SDK is not loaded
 * without SENTRY_DSN (and is with one); on SIGTERM /readyz turns 503 at once while an in-flight message
 * finishes, and /healthz stays 200 until the process exits. Polling a real process is the honest way to
 * see it come up.
 */

const SPY = path.join(PROJECT_ROOT, 'test', 'observability', 'module-spy.mjs');
const dirs: string[] = [];

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface Child {
  child: ChildProcess;
  base: string;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

async function startGazette(env: Record<string, string>): Promise<Child> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', SPY, 'src/server.ts'], {
    cwd: PROJECT_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: String(port), HOST: '127.0.0.1', SECRET_KEY: 'k'.repeat(40), LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const ok = await fetch(`${base}/healthz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (child.exitCode !== null || i > 300) {
      child.kill('SIGKILL');
      assert.fail(`the server did not come up\nstdout: ${out}\nstderr: ${err}`);
    }
    await delay(100);
  }
  return { child, base, stdout: () => out, stderr: () => err, exited };
}

async function exitCode(run: Child, ms = 30_000): Promise<number | null> {
  const result = await Promise.race([run.exited, delay(ms, 'timeout' as const)]);
  if (result === 'timeout') {
    run.child.kill('SIGKILL');
    assert.fail(`the server did not exit\nstdout: ${run.stdout()}\nstderr: ${run.stderr()}`);
  }
  return result;
}

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gazette-observability-'));
  dirs.push(dir);
  return dir;
}

describe('the server process: Sentry loading, draining, logs', () => {
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('drains on SIGTERM: /readyz 503 at once, /healthz 200 while the in-flight message finishes; no Sentry SDK loaded', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'gazette.db');
    const setup = await createTestDb('sqlite', { sqliteFile: file });
    const nl = await makeNewsletter(setup.db, Date.now());
    await addReaders(setup.db, nl.id, Date.now(), 3);
    const postId = await makePost(setup.db, nl.id, Date.now(), { status: 'scheduled', scheduled_at: Date.now() - 1000 });
    await setup.drop();

    const smtp = await startSmtpServer();
    let release: (() => void) | undefined;
    smtp.respond.onData = () => new Promise<undefined>((resolve) => (release = () => resolve(undefined)));
    try {
      const run = await startGazette({ DATA_DIR: dir, DATABASE_URL: `sqlite:${file}`, SMTP_URL: smtp.url, SMTP_POOL_SIZE: '1' });
      const ready = await fetch(`${run.base}/readyz`);
      assert.equal(ready.status, 200);
      assert.deepEqual(await ready.json(), { status: 'ready', database: 'ok', migrations: 'ok', draining: false });
      assert.equal((await fetch(`${run.base}/login`)).status, 200);
      // The scheduled post started at boot; its first message is held by the relay.
      await smtp.waitUntil(() => release !== undefined, 20_000, 'a message in flight');

      run.child.kill('SIGTERM');
      let readyz = 200;
      for (let i = 0; i < 100 && readyz === 200; i++) {
        readyz = (await fetch(`${run.base}/readyz`)).status;
        if (readyz === 200) await delay(20);
      }
      assert.equal(readyz, 503, '/readyz turns 503 as soon as the process drains');
      assert.equal((await fetch(`${run.base}/healthz`)).status, 200, 'still alive, still serving, while it drains');
      release!();
      assert.equal(await exitCode(run), 0);

      const after = await createTestDb('sqlite', { sqliteFile: file, migrate: false });
      const rows = await after.db.selectFrom('deliveries').select('status').where('post_id', '=', postId).execute();
      await after.drop();
      assert.deepEqual(rows.map((r) => r.status).sort(), ['queued', 'queued', 'sent'], 'the in-flight message was finished, the rest handed back');

      assert.doesNotMatch(run.stderr(), /module-spy: loaded/, 'the Sentry SDK was never loaded');
      const lines = run.stdout().split('\n').filter(Boolean);
      for (const line of lines) JSON.parse(line);
      const requestLines = lines.map((l) => JSON.parse(l) as { msg?: string; reqId?: string }).filter((l) => l.msg === 'incoming request');
      assert.ok(requestLines.length > 0 && requestLines.every((l) => /^[0-9a-f]{12}$/.test(l.reqId ?? '')), 'request lines carry the request id');
    } finally {
      await smtp.close();
    }
  });

  it('loads the Sentry SDK when SENTRY_DSN is set, and logs in pretty text when asked', async () => {
    const sentry = await startFakeSentry();
    try {
      const run = await startGazette({ DATA_DIR: tempDir(), SENTRY_DSN: sentry.dsn, LOG_FORMAT: 'pretty' });
      await fetch(`${run.base}/`);
      run.child.kill('SIGTERM');
      assert.equal(await exitCode(run), 0);
      assert.match(run.stderr(), /module-spy: loaded .*@sentry\/node/);
      assert.match(run.stdout(), /^\d\d:\d\d:\d\d\.\d{3} INFO  \[[0-9a-f]{12}\] incoming request req=/m);
      assert.doesNotMatch(run.stdout(), /^\{/m);
    } finally {
      await sentry.close();
    }
  });
});
