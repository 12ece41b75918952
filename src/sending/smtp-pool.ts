import type { Transform } from 'node:stream';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { SmtpConfig } from '../config.js';
import { classifySendError, classifySessionError, isWireReady, type BulkTransport, type OutgoingRaw, type SendOutcome } from './transport.js';

/**
 * The engine's own pool of nodemailer SMTPConnections: pre-built bytes go straight to `send()`, with
 * no per-message composition (5–10× faster than `sendMail()`, see research/performance.md). The pool
 * also knows where in the SMTP dialogue a failure happened, which decides between "retry" and
 * "unknown".
 */

export interface SmtpPoolOptions {
  size: number;
  /** Name announced with EHLO. */
  clientName?: string;
  connectionTimeoutMs?: number;
  greetingTimeoutMs?: number;
  /** Inactivity limit; generous, because the answer to the final dot may take minutes (RFC 1047). */
  socketTimeoutMs?: number;
  /** Reconnect after this many messages; some relays refuse more per session. */
  maxMessagesPerConnection?: number;
  tls?: { rejectUnauthorized?: boolean };
}

interface Conn {
  c: SMTPConnection;
  alive: boolean;
  /** Connected (and logged in): a session the relay accepted. */
  ready: boolean;
  messages: number;
}

type SessionFailure = { kind: 'session'; fatal: boolean; error: string; code?: number };

export function createSmtpPool(smtp: SmtpConfig, options: SmtpPoolOptions): BulkTransport {
  const size = Math.max(1, options.size);
  const maxMessages = options.maxMessagesPerConnection ?? 1000;
  const idle: Conn[] = [];
  const waiters: Array<() => void> = [];
  /** Connections open or opening. */
  let open = 0;
  /** Sessions the relay accepted and that are still open. */
  let established = 0;
  // Lowered when the relay refuses extra sessions while others work; raised again as sends succeed.
  let limit = size;
  let successes = 0;
  let closed = false;

  const release = (conn: Conn) => {
    if (conn.alive && !closed) idle.push(conn);
    else drop(conn);
    waiters.shift()?.();
  };

  const gone = (conn: Conn) => {
    conn.alive = false;
    open -= 1;
    if (conn.ready) established -= 1;
  };

  const drop = (conn: Conn) => {
    if (conn.alive) {
      gone(conn);
      try {
        conn.c.close();
      } catch {
        // already closed
      }
    }
    waiters.shift()?.();
  };

  const connect = (): Promise<Conn | SessionFailure> =>
    new Promise((resolve) => {
      const c = new SMTPConnection({
        host: smtp.host,
        port: smtp.port,
        secure: smtp.secure,
        ...(options.clientName ? { name: options.clientName } : {}),
        connectionTimeout: options.connectionTimeoutMs ?? 15_000,
        greetingTimeout: options.greetingTimeoutMs ?? 15_000,
        socketTimeout: options.socketTimeoutMs ?? 300_000,
        ...(options.tls ? { tls: options.tls } : {}),
      });
      const conn: Conn = { c, alive: true, ready: false, messages: 0 };
      let settled = false;
      const accepted = () => {
        settled = true;
        conn.ready = true;
        established += 1;
        resolve(conn);
      };
      open += 1;
      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        drop(conn);
        resolve({ kind: 'session', ...classifySessionError(err) });
      };
      // Errors also arrive through callbacks; the event must have a listener or it would throw.
      c.on('error', (err) => fail(err));
      c.on('end', () => {
        if (conn.alive) {
          gone(conn);
          const at = idle.indexOf(conn);
          if (at >= 0) idle.splice(at, 1);
          waiters.shift()?.();
        }
      });
      c.connect((err) => {
        if (err) return fail(err);
        if (!smtp.user) return accepted();
        c.login({ user: smtp.user, pass: smtp.password ?? '' }, (loginErr) => (loginErr ? fail(loginErr) : accepted()));
      });
    });

  /** A connection to send on, or the reason none can be had. */
  const acquire = async (): Promise<Conn | SessionFailure> => {
    for (;;) {
      if (closed) return { kind: 'session', fatal: true, error: 'the SMTP pool is closed' };
      const conn = idle.pop();
      if (conn) {
        if (conn.alive) return conn;
        continue;
      }
      if (open < limit) {
        const made = await connect();
        if (!('kind' in made)) return made;
        // Other sessions work: the relay limits how many we may open. Wait for one of those.
        if (!made.fatal && established > 0) {
          limit = Math.max(1, established);
          continue;
        }
        return made;
      }
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };

  const sendOn = (conn: Conn, m: OutgoingRaw): Promise<{ outcome: SendOutcome; dataSent: boolean; err?: unknown }> =>
    new Promise((resolve) => {
      let dataSent = false;
      const wireReady = isWireReady(m.raw);
      // SMTPConnection pipes a message that has pipe(): the call comes once the relay said 354, so
      // it marks the point after which a lost connection leaves the outcome unknown.
      const payload = {
        on: () => payload,
        removeListener: () => payload,
        destroy: () => undefined,
        pipe: (dest: NodeJS.WritableStream) => {
          dataSent = true;
          if (wireReady && typeof (dest as Partial<Transform>).push === 'function') {
            // Already transparent (no line starts with a dot, CRLF line ends): skip the escaping
            // transform's byte-by-byte pass and hand the bytes to its output; the final CRLF is
            // left for the transform's own "<CRLF>.<CRLF>" terminator.
            (dest as Transform).push(m.raw.subarray(0, m.raw.length - 2));
            dest.end();
          } else dest.end(m.raw);
          return dest;
        },
      };
      conn.c.send({ from: m.from, to: [m.to], size: m.raw.length }, payload as never, (err, info) => {
        if (err) resolve({ outcome: classifySendError(err, dataSent), dataSent, err });
        else resolve({ outcome: { kind: 'sent', response: String(info?.response ?? '250 OK').slice(0, 500) }, dataSent });
      });
    });

  return {
    kind: 'smtp',
    concurrency: size,
    async send(m) {
      for (let attempt = 0; ; attempt++) {
        const conn = await acquire();
        if ('kind' in conn) return { kind: 'relay', error: conn.error, ...(conn.code !== undefined ? { code: conn.code } : {}) };
        const reused = conn.messages > 0;
        const { outcome, dataSent, err } = await sendOn(conn, m);
        conn.messages += 1;
        if (outcome.kind === 'sent') {
          if (limit < size && ++successes % 50 === 0) limit += 1;
          if (conn.messages >= maxMessages) {
            conn.c.quit();
            drop(conn);
          } else release(conn);
          return outcome;
        }
        const e = (err ?? {}) as { code?: string; responseCode?: number };
        // A kept-alive session the relay had already closed: nothing was sent, try a fresh one once.
        if (reused && !dataSent && e.responseCode === undefined && attempt === 0) {
          drop(conn);
          continue;
        }
        if ((e.code === 'EENVELOPE' || e.code === 'EMESSAGE') && e.responseCode !== 421 && conn.alive && !conn.c.destroyed) {
          conn.c.reset((resetErr) => (resetErr ? drop(conn) : release(conn)));
        } else {
          drop(conn);
        }
        return outcome;
      }
    },
    async probe() {
      const made = await connect();
      if ('kind' in made) return { ok: false, error: made.error };
      made.c.quit();
      drop(made);
      limit = size;
      return { ok: true };
    },
    async close() {
      closed = true;
      for (const conn of idle.splice(0)) {
        try {
          conn.c.quit();
        } catch {
          // gone already
        }
        drop(conn);
      }
      for (const w of waiters.splice(0)) w();
    },
  };
}
