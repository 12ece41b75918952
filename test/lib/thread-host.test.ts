import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { BroadcastChannel, threadId } from 'node:worker_threads';
import { describe, it } from 'node:test';
import { PROJECT_ROOT } from '../../src/lib/paths.js';
import { hostRunning, startHosted, type HostedRole } from '../../src/lib/thread-host.js';

/**
 * The shared background thread (lib/thread-host.ts): roles run side by side in one worker thread, each on
 * its own port; a bug in one ends the thread for all of them, and the next role gets a new thread.
 */
const start = (name: string) => ({ role: startHosted(import.meta.url, 'fixtures/echo-role', { name }) });
const askNow = (role: HostedRole, message: unknown) => {
  const answer = new Promise<{ name: string; threadId: number; message: unknown }>((resolve) => {
    role.on('message', resolve as (m: never) => void);
  });
  role.ref();
  role.postMessage(message);
  return answer.finally(() => role.unref());
};
/** The names of the roles whose end has run in the thread from now on. */
const endings = () => {
  const names: string[] = [];
  const channel = new BroadcastChannel('echo-role-ended');
  let heard: (() => void) | undefined;
  channel.onmessage = (event) => {
    names.push(String((event as MessageEvent).data));
    heard?.();
  };
  return {
    next: () => new Promise<string>((resolve) => (heard = () => resolve(names.at(-1)!))),
    close: () => channel.close(),
  };
};

describe('the shared background thread', () => {
  it('runs two roles on one thread, not this one, each answering on its own port', async () => {
    const a = start('a');
    const b = start('b');
    let shared = 0;
    try {
      // Posted before the role has loaded: the port keeps it until the role listens.
      const [fromA, fromB] = await Promise.all([askNow(a.role, 1), askNow(b.role, 2)]);
      assert.deepEqual([fromA.name, fromA.message, fromB.name, fromB.message], ['a', 1, 'b', 2]);
      assert.equal(fromA.threadId, fromB.threadId, 'one thread for both roles');
      assert.notEqual(fromA.threadId, threadId);
      shared = fromA.threadId;
      // Ending one role ends only that one: its end runs, the other still answers on the same thread.
      const heard = endings();
      const ending = heard.next();
      await a.role.terminate();
      assert.equal(await ending, 'a', 'the ended role freed what it held');
      heard.close();
      const again = await askNow(b.role, 3);
      assert.deepEqual([again.name, again.message, again.threadId], ['b', 3, fromB.threadId]);
    } finally {
      await a.role.terminate();
      await b.role.terminate();
    }
    // The last role took the thread with it: the next role starts a new one.
    assert.equal(hostRunning(), false);
    const c = start('c');
    try {
      assert.notEqual((await askNow(c.role, 4)).threadId, shared);
    } finally {
      await c.role.terminate();
    }
  });

  it('ends every role when one of them throws, and starts a new thread for the next role', async () => {
    const a = start('a');
    const b = start('b');
    const events: string[] = [];
    for (const [name, { role }] of [['a', a], ['b', b]] as const) {
      role.on('error', (err) => events.push(`${name} error: ${err.message}`));
      role.on('exit', () => events.push(`${name} exit`));
    }
    const first = (await askNow(b.role, 'up')).threadId;
    const exits = Promise.all([a.role, b.role].map((role) => new Promise((resolve) => role.on('exit', resolve))));
    a.role.ref();
    a.role.postMessage('throw');
    await exits;
    assert.deepEqual(events.sort(), ['a error: a bug in a', 'a exit', 'b error: a bug in a', 'b exit']);
    const c = start('c');
    try {
      const answer = await askNow(c.role, 'up');
      assert.notEqual(answer.threadId, first, 'a new thread');
    } finally {
      await c.role.terminate();
    }
  });

  it('reports a role that cannot start as an error and an exit of that role only', async () => {
    const a = start('a');
    try {
      const broken = startHosted(import.meta.url, 'fixtures/broken-role', { why: 'no database' });
      const error = new Promise<Error>((resolve) => broken.on('error', resolve));
      const exit = new Promise<number>((resolve) => broken.on('exit', resolve));
      broken.ref();
      assert.equal((await error).message, 'cannot start: no database');
      assert.equal(await exit, 1);
      assert.equal((await askNow(a.role, 'still here')).message, 'still here');
    } finally {
      await a.role.terminate();
    }
  });

  it('ends the thread when the role that cannot start was the only one in it', async () => {
    const broken = startHosted(import.meta.url, 'fixtures/broken-role', { why: 'no database' });
    assert.equal(hostRunning(), true);
    const exit = new Promise<number>((resolve) => broken.on('exit', resolve));
    broken.on('error', () => {});
    broken.ref();
    assert.equal(await exit, 1);
    assert.equal(hostRunning(), false, 'no thread is left running with no role in it');
  });

  it('never holds the process up by itself: a process whose roles are idle exits', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/lib/fixtures/idle-role-process.ts'], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    // A bound, not a wait: the process exits at once, or it hangs and is killed.
    const bound = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.once('exit', (c, s) => resolve([c, s])));
    clearTimeout(bound);
    assert.equal(out, 'attached\n');
    assert.deepEqual([code, signal], [0, null], 'exited by itself, not killed');
  });
});
