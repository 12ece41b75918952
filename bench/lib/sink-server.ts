import { createServer, type Server, type Socket } from 'node:net';

/**
 * A minimal, fast SMTP sink for benchmarks: it speaks just enough ESMTP (EHLO with PIPELINING and
 * 8BITMIME, MAIL, RCPT, DATA, RSET, NOOP, QUIT), accepts everything (or, with a quota, everything within
 * it: see SinkThrottle), and records each RCPT TO so a run
 * can prove that exactly N distinct recipients arrived, once each. Several times faster than the
 * `smtp-server` package, which saturates one core near 6,000 messages/s and would hide the sender's speed.
 */
export interface SinkStats {
  messages: number;
  distinct: number;
  duplicates: number;
  firstAt: number | null;
  lastAt: number | null;
  bytes: number;
  connections: number;
  /** User+system CPU seconds the sink process spent since the last reset. */
  cpuSeconds: number;
  /** With a quota: the rate answers it gave (MAIL FROM refused with the throttle's code). */
  throttled: number;
  /** With a quota: messages accepted in each second since the first one. */
  perSecond: number[];
}

/**
 * A relay's quota: at most `perSecond` messages a second across all connections, a token bucket holding a
 * tenth of a second's worth (so no second takes much more than the quota). Beyond it MAIL FROM is answered
 * `CODE 4.7.0 rate exceeded`; with 421 the sink then closes the connection, as RFC 5321 says a 421 does.
 */
export interface SinkThrottle {
  perSecond: number;
  code: 421 | 451 | 454;
}

const CRLF = Buffer.from('\r\n');
const TERMINATOR = Buffer.from('\r\n.\r\n');

/** The quota's bucket: refilled on the clock, one token per accepted message. */
function quota(t: SinkThrottle, now: () => number = () => performance.now()) {
  const capacity = Math.max(1, t.perSecond / 10);
  let tokens = capacity;
  let at = now();
  return {
    take(): boolean {
      const n = now();
      tokens = Math.min(capacity, tokens + ((n - at) * t.perSecond) / 1000);
      at = n;
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
  };
}

export function createSink(throttle?: SinkThrottle): { server: Server; stats(): SinkStats; reset(): void } {
  let recipients = new Map<string, number>();
  let messages = 0;
  let duplicates = 0;
  let firstAt: number | null = null;
  let lastAt: number | null = null;
  let bytes = 0;
  let connections = 0;
  let cpuAtReset = process.cpuUsage();
  let throttled = 0;
  let perSecond: number[] = [];
  const bucket = throttle ? quota(throttle) : undefined;

  const server = createServer((socket: Socket) => {
    connections += 1;
    socket.setNoDelay(true);
    socket.write('220 sink ESMTP ready\r\n');
    // Bytes not yet consumed. In DATA only a 4-byte tail is kept between chunks, enough to find a
    // terminator split across two reads, so a message body is scanned once and never copied.
    let buffer: Buffer = Buffer.alloc(0);
    let inData = false;
    let pendingRcpts: string[] = [];
    let refusedMail = false;
    let out: string[] = [];
    const flush = () => {
      if (out.length > 0) {
        socket.write(out.join(''));
        out = [];
      }
    };
    socket.on('data', (chunk: Buffer) => {
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
      for (;;) {
        if (inData) {
          const end = buffer.indexOf(TERMINATOR);
          if (end === -1) {
            bytes += Math.max(0, buffer.length - 4);
            buffer = buffer.length > 4 ? buffer.subarray(buffer.length - 4) : buffer;
            break;
          }
          bytes += end + 5;
          buffer = buffer.subarray(end + 5);
          inData = false;
          const now = Date.now();
          firstAt ??= now;
          lastAt = now;
          messages += 1;
          if (bucket) {
            const second = Math.floor((now - firstAt) / 1000);
            while (perSecond.length <= second) perSecond.push(0);
            perSecond[second]! += 1;
          }
          for (const r of pendingRcpts) {
            const seen = recipients.get(r) ?? 0;
            if (seen > 0) duplicates += 1;
            recipients.set(r, seen + 1);
          }
          pendingRcpts = [];
          // A queue id per message, as real relays answer (each row keeps its own answer).
          out.push(`250 2.0.0 Ok: queued as ${messages.toString(36).toUpperCase()}\r\n`);
          continue;
        }
        const nl = buffer.indexOf(CRLF);
        if (nl === -1) break;
        const line = buffer.toString('latin1', 0, nl);
        buffer = buffer.subarray(nl + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO') out.push('250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 52428800\r\n');
        else if (verb === 'HELO') out.push('250 sink\r\n');
        else if (verb === 'MAIL') {
          pendingRcpts = [];
          if (bucket && !bucket.take()) {
            throttled += 1;
            out.push(`${throttle!.code} 4.7.0 rate exceeded\r\n`);
            if (throttle!.code === 421) {
              flush();
              socket.end();
              return;
            }
            refusedMail = true;
            continue;
          }
          refusedMail = false;
          out.push('250 2.1.0 Ok\r\n');
        } else if (refusedMail && (verb === 'RCPT' || verb === 'DATA')) {
          // The transaction was refused at MAIL FROM: nothing of it is open.
          out.push('503 5.5.1 Error: need MAIL command\r\n');
        } else if (verb === 'RCPT') {
          const m = /<([^>]*)>/.exec(line);
          pendingRcpts.push((m?.[1] ?? '').toLowerCase());
          out.push('250 2.1.5 Ok\r\n');
        } else if (verb === 'DATA') {
          inData = true;
          // The data starts on a fresh line: a virtual CRLF lets one search find "\r\n.\r\n" even
          // for an empty message.
          buffer = Buffer.concat([CRLF, buffer]);
          out.push('354 End data with <CR><LF>.<CR><LF>\r\n');
        } else if (verb === 'RSET') {
          pendingRcpts = [];
          refusedMail = false;
          out.push('250 2.0.0 Ok\r\n');
        } else if (verb === 'NOOP') out.push('250 2.0.0 Ok\r\n');
        else if (verb === 'QUIT') {
          out.push('221 2.0.0 Bye\r\n');
          flush();
          socket.end();
          return;
        } else out.push('502 5.5.2 Command not recognized\r\n');
      }
      flush();
    });
    socket.on('error', () => {});
  });

  return {
    server,
    stats: () => {
      const cpu = process.cpuUsage(cpuAtReset);
      return { messages, distinct: recipients.size, duplicates, firstAt, lastAt, bytes, connections, cpuSeconds: (cpu.user + cpu.system) / 1e6, throttled, perSecond };
    },
    reset: () => {
      recipients = new Map();
      messages = 0;
      duplicates = 0;
      firstAt = null;
      lastAt = null;
      bytes = 0;
      connections = 0;
      throttled = 0;
      perSecond = [];
      cpuAtReset = process.cpuUsage();
    },
  };
}
