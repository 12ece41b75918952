import type { SmtpConfig } from '../config.js';
import { SmtpError, SmtpSession } from './smtp-session.js';
import { classifySendError, classifySessionError, isWireReady, type BulkTransport, type OutgoingRaw, type SendOutcome } from './transport.js';

/**
 * The engine's own pool of SMTP sessions (smtp-session.ts): pre-built bytes go straight out, with no
 * per-message composition. Messages wait in one queue; a session takes the next one as soon as it can:
 * when it is idle, or, with PIPELINING, the moment it writes a message, so the next envelope leaves in
 * the same packet as that message (one round trip per message instead of two).
 *
 * A message may come with a gate (`submit`): its envelope goes out early, its body only once the gate
 * opens (the engine opens it when the row's `attempting` marker is durable). A gate that closes instead
 * abandons the message: nothing of it was delivered, and the session is dropped if the relay was
 * already waiting for the body. The pool opens sessions up to its size (fewer when the relay refuses
 * extra ones) and knows where in the dialogue a failure happened, which decides between "retry" and
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

/** Resolves true when the message may go, false when it must not (it is then never sent). */
export type Gate = Promise<boolean>;

export interface SmtpPool extends BulkTransport {
  /** Like `send`, with a gate; resolves null for a message the gate stopped. */
  submit(message: OutgoingRaw, gate?: Gate): Promise<SendOutcome | null>;
}

interface Conn {
  session: SmtpSession;
  /** Counted in `open`/`established` until gone. */
  alive: boolean;
  messages: number;
  /** A message is in progress on it (possibly two: one finishing, the next one's envelope). */
  busy: boolean;
}

interface Job {
  m: OutgoingRaw;
  gate: Gate | undefined;
  /** Sends tried on a session the relay had already closed (at most one retry on a fresh one). */
  stale: number;
  done: (outcome: SendOutcome | null) => void;
}

/** What one message's run needs from its pool. */
interface PoolCore {
  /** Messages waiting for a session, oldest first. */
  readonly queue: Job[];
  readonly maxMessages: number;
  closed(): boolean;
  /** A message was sent: every 50 successes raise a lowered session limit by one. */
  sent(): void;
  dispatch(): void;
  release(conn: Conn): void;
  drop(conn: Conn): void;
  discard(conn: Conn): void;
}

export function createSmtpPool(smtp: SmtpConfig, options: SmtpPoolOptions): SmtpPool {
  const size = Math.max(1, options.size);
  const maxMessages = options.maxMessagesPerConnection ?? 1000;
  const idle: Conn[] = [];
  const queue: Job[] = [];
  /** Sessions open or opening. */
  let open = 0;
  let opening = 0;
  /** Sessions the relay accepted and that are still open. */
  let established = 0;
  // Lowered when the relay refuses extra sessions while others work; raised again as sends succeed.
  let limit = size;
  let successes = 0;
  let closed = false;

  const sessionOptions = () => sessionOptionsFor(smtp, options);

  const gone = (conn: Conn) => {
    if (!conn.alive) return;
    conn.alive = false;
    open -= 1;
    established -= 1;
    const at = idle.indexOf(conn);
    if (at >= 0) idle.splice(at, 1);
  };
  const drop = (conn: Conn) => {
    gone(conn);
    conn.session.close();
  };
  /** Closes a session that cannot go on and frees its place. */
  const discard = (conn: Conn) => {
    drop(conn);
    release(conn);
  };
  const release = (conn: Conn) => {
    conn.busy = false;
    if (!conn.alive) return dispatch();
    if (closed || conn.messages >= maxMessages) {
      conn.session.quit();
      gone(conn);
    } else idle.push(conn);
    dispatch();
  };

  const core: PoolCore = {
    queue,
    maxMessages,
    closed: () => closed,
    sent: () => {
      if (limit < size && ++successes % 50 === 0) limit += 1;
    },
    dispatch,
    release,
    drop,
    discard,
  };

  /** Gives queued messages to idle sessions, and opens sessions while messages wait for one. */
  function dispatch(): void {
    while (queue.length > 0) {
      const conn = idle.pop();
      if (!conn) break;
      if (conn.alive) run(core, conn, queue.shift()!);
    }
    while (!closed && queue.length > opening && open < limit) openSession();
  }

  function openSession(): void {
    open += 1;
    opening += 1;
    SmtpSession.open(sessionOptions()).then(
      (session) => {
        opening -= 1;
        established += 1;
        const conn: Conn = { session, alive: true, messages: 0, busy: false };
        session.onClose = () => {
          gone(conn);
          dispatch();
        };
        if (!session.alive) gone(conn);
        else if (closed) {
          session.quit();
          gone(conn);
        } else idle.push(conn);
        dispatch();
      },
      (err: unknown) => {
        opening -= 1;
        open -= 1;
        const failure = classifySessionError(err);
        // Other sessions work: the relay limits how many we may open. The messages wait for those.
        if (!failure.fatal && established > 0) limit = Math.max(1, established);
        else queue.shift()?.done({ kind: 'relay', error: failure.error, ...(failure.code !== undefined ? { code: failure.code } : {}) });
        dispatch();
      },
    );
  }

  function submit(m: OutgoingRaw, gate?: Gate): Promise<SendOutcome | null> {
    if (closed) return Promise.resolve({ kind: 'relay', error: 'the SMTP pool is closed' });
    return new Promise((done) => {
      queue.push({ m, gate, stale: 0, done });
      dispatch();
    });
  }

  return {
    kind: 'smtp',
    concurrency: size,
    submit,
    send: (m) => submit(m) as Promise<SendOutcome>,
    async probe() {
      try {
        const session = await SmtpSession.open(sessionOptions());
        session.quit();
        limit = size;
        return { ok: true };
      } catch (err) {
        return { ok: false, error: classifySessionError(err).error };
      }
    },
    async close() {
      closed = true;
      for (const conn of idle.splice(0)) {
        conn.session.quit();
        gone(conn);
      }
      for (const job of queue.splice(0)) job.done({ kind: 'relay', error: 'the SMTP pool is closed' });
    },
  };
}

function sessionOptionsFor(smtp: SmtpConfig, options: SmtpPoolOptions) {
  return {
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    ...(smtp.user ? { user: smtp.user, password: smtp.password ?? '' } : {}),
    ...(options.clientName ? { clientName: options.clientName } : {}),
    connectionTimeoutMs: options.connectionTimeoutMs ?? 15_000,
    greetingTimeoutMs: options.greetingTimeoutMs ?? 15_000,
    socketTimeoutMs: options.socketTimeoutMs ?? 300_000,
    ...(options.tls ? { tls: options.tls } : {}),
  };
}

/** One message on one session: envelope, gate, body; the next message may start on it meanwhile. */
async function run(pool: PoolCore, conn: Conn, job: Job): Promise<void> {
  conn.busy = true;
  conn.messages += 1;
  const reused = conn.messages > 1;
  const { session } = conn;
  try {
    await session.envelope(job.m.from, job.m.to, job.m.raw.length);
  } catch (err) {
    const e = asSmtpError(err);
    // A kept-alive session the relay had already closed: nothing was sent, try a fresh one once.
    if (reused && e.code === 'ECONNECTION' && e.responseCode === undefined && job.stale === 0) {
      job.stale += 1;
      pool.drop(conn);
      pool.queue.unshift(job);
      return pool.dispatch();
    }
    job.done(classifySendError(e, false));
    if (e.code === 'EENVELOPE' || e.code === 'EMESSAGE') {
      // Refused before anything was written (too big for the relay): the session is as it was.
      if (e.responseCode === undefined && session.alive) return pool.release(conn);
      if (session.alive) {
        return void session.reset().then(
          () => pool.release(conn),
          () => pool.discard(conn),
        );
      }
    }
    return pool.discard(conn);
  }
  if (job.gate && !(await job.gate.catch(() => false))) {
    // The relay waits for this message's body: only closing the session ends that without sending.
    job.done(null);
    return pool.discard(conn);
  }
  // With PIPELINING the next message's envelope leaves together with this message.
  const next = session.pipelining && conn.messages < pool.maxMessages && !pool.closed() ? pool.queue.shift() : undefined;
  const answer = session.data(job.m.raw, isWireReady(job.m.raw));
  if (next) void run(pool, conn, next);
  try {
    const response = await answer;
    pool.sent();
    job.done({ kind: 'sent', response: response.slice(0, 500) });
  } catch (err) {
    const e = asSmtpError(err);
    job.done(classifySendError(e, e.dataSent));
    // The relay's answer to the final dot ends the transaction whatever it says; anything else
    // (a lost connection, a timeout) ends the session.
    if (!(e.code === 'EMESSAGE' && e.responseCode !== undefined)) pool.drop(conn);
  }
  if (!next) pool.release(conn);
}

function asSmtpError(err: unknown): SmtpError {
  return err instanceof SmtpError ? err : new SmtpError((err as Error)?.message ?? String(err), 'EPROTOCOL');
}
