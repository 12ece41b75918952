/**
 * A far relay on loopback: an order-preserving TCP proxy that holds every chunk for half a round trip in
 * each direction, so a sender in front of it sees RTT milliseconds between a command and its answer, as
 * it would with a relay 10–100 ms away (the kernel's netem is not available on these machines). Bytes
 * keep their order and their chunking; bandwidth is not limited (a relay's link is not what decides here).
 *
 * Time comes from a `Timers` (the real ones by default; tests pass a fake and move it by hand). Each
 * direction keeps one timer for the chunk at its head, so thousands of chunks a second cost a timer each
 * at most.
 *
 * Run as a process (`tsx bench/delay-line.ts TARGET_PORT RTT_MS`), it listens on a free port of 127.0.0.1
 * and prints `listening PORT`.
 */
import net from 'node:net';
import { fileURLToPath } from 'node:url';

export interface Timers {
  now(): number;
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export const realTimers: Timers = {
  now: () => performance.now(),
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** One direction's chunks in flight: each leaves `delayMs` after it arrived, in arrival order. */
export class DelayQueue<T> {
  private items: Array<{ at: number; item: T }> = [];
  private head = 0;

  constructor(private readonly delayMs: number) {}

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T, now: number): void {
    this.items.push({ at: now + this.delayMs, item });
  }

  /** When the oldest item is due, or undefined when empty. */
  nextAt(): number | undefined {
    return this.items[this.head]?.at;
  }

  /** The items due at `now`, oldest first. */
  takeDue(now: number): T[] {
    const due: T[] = [];
    while (this.head < this.items.length && this.items[this.head]!.at <= now) due.push(this.items[this.head++]!.item);
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return due;
  }
}

const END = Symbol('end');
/** A chunk this close to its time leaves now: a timer's next chance would be a whole millisecond later. */
const DUE_WITHIN_MS = 0.5;
type Chunk = Buffer | typeof END;

/**
 * Carries `from`'s bytes to `to` with `delayMs` of delay; its end (half-close) is delayed the same way.
 * Reading pauses while `to` cannot take more, so a slow reader holds the sender back as TCP would.
 */
function delayedPipe(from: net.Socket, to: net.Socket, delayMs: number, timers: Timers, onQueued?: () => void): void {
  const queue = new DelayQueue<Chunk>(delayMs);
  let timer: unknown;
  // Node's timers fire late: they count whole milliseconds of the event loop's clock and run after the
  // loop's turn, about a millisecond each way on these machines, which would make a 40 ms line a 41.5 ms one. Each timer is
  // set early by the lateness seen so far (smoothed), and a chunk due within half a millisecond leaves at
  // once, so a chunk's delay is right on average rather than always a little long.
  let lateness = 0;
  const flush = (intended: number) => {
    timer = undefined;
    const now = timers.now();
    lateness += (now - intended - lateness) / 8;
    const due = queue.takeDue(now + DUE_WITHIN_MS);
    const bytes = due.filter((c): c is Buffer => c !== END);
    if (bytes.length > 0 && !to.destroyed) {
      if (!to.write(bytes.length === 1 ? bytes[0]! : Buffer.concat(bytes))) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    }
    if (due.includes(END) && !to.destroyed) to.end();
    arm();
  };
  const arm = () => {
    const at = queue.nextAt();
    if (at === undefined || timer !== undefined) return;
    const now = timers.now();
    const wait = Math.max(0, at - now - lateness);
    timer = timers.set(() => flush(now + wait), wait);
  };
  const push = (c: Chunk) => {
    queue.push(c, timers.now());
    arm();
    onQueued?.();
  };
  from.on('data', (chunk: Buffer) => push(chunk));
  from.on('end', () => push(END));
}

export interface DelayLine {
  port: number;
  /** Connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

export interface DelayLineOptions {
  targetPort: number;
  targetHost?: string;
  /** The round trip it adds: half of it each way. */
  rttMs: number;
  timers?: Timers;
  /** Called after a chunk was queued in either direction (tests wait on it). */
  onQueued?: () => void;
}

export async function startDelayLine(o: DelayLineOptions): Promise<DelayLine> {
  const timers = o.timers ?? realTimers;
  const half = o.rttMs / 2;
  const sockets = new Set<net.Socket>();
  let connections = 0;
  // Half-open sockets: one side's end travels through the line like its bytes, after what it sent before.
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    connections += 1;
    const upstream = net.connect({ port: o.targetPort, host: o.targetHost ?? '127.0.0.1', allowHalfOpen: true });
    for (const s of [client, upstream]) {
      s.setNoDelay(true);
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      // A reset on one side ends the other at once: there is nothing left to carry in order.
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    // The greeting is delayed like any answer; the TCP handshake itself is not (a session opens once).
    delayedPipe(client, upstream, half, timers, o.onQueued);
    delayedPipe(upstream, client, half, timers, o.onQueued);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [target, rtt] = process.argv.slice(2).map(Number);
  const line = await startDelayLine({ targetPort: target!, rttMs: rtt! });
  process.stdout.write(`listening ${line.port}\n`);
  process.on('disconnect', () => process.exit(0));
}
