import assert from 'node:assert/strict';
import net from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { DelayQueue, startDelayLine, type Timers } from '../../bench/delay-line.js';

/**
 * The benchmark's delay line on real loopback sockets with a clock the test moves: bytes cross it only
 * when half the round trip has passed on that clock, in order, in both directions, and an end follows
 * the bytes sent before it.
 */

/** Timers the test moves by hand; each fires `lateMs` after its time, as Node's do under way. */
function fakeTimers(lateMs = 0): Timers & { advance(ms: number): void; readonly now: () => number } {
  let now = 0;
  let timers: Array<{ at: number; fn: () => void; id: number }> = [];
  let ids = 0;
  return {
    now: () => now,
    set(fn, ms) {
      const id = ++ids;
      timers.push({ at: now + ms + lateMs, fn, id });
      return id;
    },
    clear(handle) {
      timers = timers.filter((t) => t.id !== handle);
    },
    advance(ms) {
      const until = now + ms;
      for (;;) {
        const due = timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        timers = timers.filter((t) => t !== due);
        now = due.at;
        due.fn();
      }
      now = until;
    },
  };
}

/** Resolves once `socket` has received `text` in total (its data so far kept in `seen`). */
function collector(socket: net.Socket) {
  let seen = '';
  let waiters: Array<{ text: string; resolve: () => void }> = [];
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => {
    seen += d;
    waiters = waiters.filter((w) => (seen === w.text ? (w.resolve(), false) : true));
  });
  return {
    get seen() {
      return seen;
    },
    until: (text: string) => new Promise<void>((resolve) => (seen === text ? resolve() : waiters.push({ text, resolve }))),
  };
}

const turn = () => new Promise<void>((r) => setImmediate(r));

describe('delay line', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(lateMs = 0) {
    const timers = fakeTimers(lateMs);
    const server = net.createServer({ allowHalfOpen: true });
    const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    let queued = 0;
    let onQueued: (() => void) | undefined;
    const line = await startDelayLine({
      targetPort: (server.address() as net.AddressInfo).port,
      rttMs: 40,
      timers,
      onQueued: () => {
        queued += 1;
        onQueued?.();
      },
    });
    cleanups.push(() => line.close());
    const client = net.connect({ port: line.port, host: '127.0.0.1', allowHalfOpen: true });
    cleanups.push(() => void client.destroy());
    const upstream = await accepted;
    cleanups.push(() => void upstream.destroy());
    /** Waits until the line has queued `n` chunks in all. */
    const queuedCount = (n: number) => new Promise<void>((resolve) => (queued >= n ? resolve() : (onQueued = () => queued >= n && resolve())));
    return { timers, client, upstream, queuedCount };
  }

  it('holds each direction for half the round trip, in order', async () => {
    const { timers, client, upstream, queuedCount } = await setup();
    const atRelay = collector(upstream);
    const atClient = collector(client);

    client.write('MAIL FROM:<a@example.com>\r\n');
    await queuedCount(1);
    timers.advance(10);
    client.write('RCPT TO:<b@example.com>\r\n');
    await queuedCount(2);
    timers.advance(9);
    await turn();
    assert.equal(atRelay.seen, '', 'nothing before 20 ms');
    timers.advance(1);
    await atRelay.until('MAIL FROM:<a@example.com>\r\n');
    timers.advance(10);
    await atRelay.until('MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n');

    upstream.write('250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n');
    await queuedCount(3);
    timers.advance(19);
    await turn();
    assert.equal(atClient.seen, '');
    timers.advance(1);
    await atClient.until('250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n');
  });

  it('sets its timers early by their lateness, so a chunk’s delay is right on average', async () => {
    // Timers that fire 1 ms late: uncorrected, every chunk would cross in 21 ms instead of 20.
    const { timers, client, upstream, queuedCount } = await setup(1);
    const atRelay = collector(upstream);
    const crossed: number[] = [];
    let sent = '';
    for (let i = 0; i < 12; i++) {
      const line = `NOOP ${i}\r\n`;
      const at = timers.now();
      client.write(line);
      await queuedCount(i + 1);
      sent += line;
      let waited = 0;
      while (atRelay.seen !== sent && waited < 30) {
        timers.advance(0.25);
        waited += 0.25;
        await turn();
      }
      assert.equal(atRelay.seen, sent, `chunk ${i} crossed`);
      crossed.push(timers.now() - at);
    }
    assert.ok(crossed[0]! >= 20.5 && crossed[0]! <= 21.25, `the first chunk, before any lateness is known: ${crossed[0]} ms`);
    const last = crossed.slice(-4);
    for (const ms of last) assert.ok(Math.abs(ms - 20) <= 0.5, `once the lateness is learnt a chunk crosses in 20 ± 0.5 ms: ${crossed.join(', ')}`);
  });

  it('carries an end after the bytes sent before it', async () => {
    const { timers, client, upstream, queuedCount } = await setup();
    const atRelay = collector(upstream);
    const ended = new Promise<void>((r) => upstream.once('end', () => r()));
    client.end('QUIT\r\n');
    await queuedCount(2);
    timers.advance(20);
    await atRelay.until('QUIT\r\n');
    await ended;
  });

  it('keeps a queue of items, each due its delay after it came', () => {
    const q = new DelayQueue<string>(20);
    assert.equal(q.nextAt(), undefined);
    q.push('a', 0);
    q.push('b', 5);
    q.push('c', 5);
    assert.equal(q.nextAt(), 20);
    assert.deepEqual(q.takeDue(19), []);
    assert.deepEqual(q.takeDue(20), ['a']);
    assert.equal(q.nextAt(), 25);
    assert.deepEqual(q.takeDue(100), ['b', 'c']);
    assert.equal(q.length, 0);
  });
});
