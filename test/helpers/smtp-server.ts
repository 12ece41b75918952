import type { Socket } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerAddress, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';

/**
 * A real SMTP server inside the test process (the `smtp-server` package), for tests that go through
 * nodemailer to a relay and read what arrived. It listens on 127.0.0.1 on a free port, speaks plain
 * SMTP (no STARTTLS) and needs no AUTH unless `auth` is given.
 *
 *   const smtp = await startSmtpServer();
 *   // …point a mailer at smtp.url / smtp.port, send…
 *   await smtp.waitFor(1);
 *   assert.equal(smtp.messages[0].parsed?.subject, 'Hello');
 *   await smtp.close();
 *
 * Scripting the relay's answers (for 4xx, 5xx and dropped connections) goes through `respond`, which
 * can be given to `startSmtpServer` and changed at any time while the server runs:
 *
 *   smtp.respond.onRcpt = (address) => address.startsWith('gone@') ? reply(550, '5.1.1 No such user') : undefined;
 *   smtp.respond.onData = () => reply(451, '4.3.0 Try again later');
 *   smtp.respond.onData = () => 'drop';          // connection lost after the message was sent: outcome unknown
 *   smtp.respond.onData = () => new Promise(…);   // hold the answer until the test decides
 *   smtp.respond.onConnect = () => reply(421, '4.7.0 Too many connections');  // relay-wide throttling
 *   smtp.respond = {};                             // back to accepting everything
 *
 * Every hook returns an `SmtpAnswer`: `undefined` accepts as a normal relay would; `{ code, message }`
 * answers with that code (a code below 400 accepts: the reply is then always 250, and for DATA the
 * message text is used, e.g. "250 2.0.0 queued as ABC"); `'drop'` closes the TCP connection without
 * answering. A hook may be async; a hook that throws answers 451 with the error's message.
 *
 * What the server saw: `messages` (accepted, each already parsed by mailparser), `refusals` (every
 * scripted or failed-AUTH refusal and every drop, with its stage), and `connections` (total, open, most
 * open at once). Nothing here sleeps: `waitFor`/`waitUntil` resolve on the server's own events.
 */

export interface SmtpReply {
  code: number;
  message: string;
}

export type SmtpAnswer = SmtpReply | 'drop' | undefined;

/** Shorthand for a scripted `{ code, message }` answer. */
export function reply(code: number, message: string): SmtpReply {
  return { code, message };
}

export interface SmtpEnvelope {
  /** MAIL FROM address; '' for the null sender `<>`. */
  from: string;
  /** RCPT TO addresses accepted so far in this transaction. */
  to: string[];
}

export interface ReceivedMessage {
  envelope: SmtpEnvelope;
  /** The message exactly as received after DATA (dot-unstuffed, CRLF line endings). */
  raw: Buffer;
  /** The message parsed by mailparser; absent when the server was started with `parse: false`. */
  parsed?: ParsedMail;
}

export type SmtpStage = 'connect' | 'auth' | 'mail' | 'rcpt' | 'data';

export interface SmtpRefusal {
  stage: SmtpStage;
  /** The address refused at MAIL FROM or RCPT TO, or the user name refused at AUTH. */
  address?: string;
  envelope: SmtpEnvelope;
  /** The message when it was refused (or dropped) at the end of DATA. */
  raw?: Buffer;
  answer: SmtpReply | 'drop';
}

type MaybePromise<T> = T | Promise<T>;

/** Answers the server gives; every hook is optional and may be replaced while the server runs. */
export interface SmtpScript {
  /** A client connected (before the greeting). A reply here is sent as the greeting, then the server hangs up. */
  onConnect?: (remote: { address: string; port: number }) => MaybePromise<SmtpAnswer>;
  onMailFrom?: (address: string) => MaybePromise<SmtpAnswer>;
  onRcpt?: (address: string, envelope: SmtpEnvelope) => MaybePromise<SmtpAnswer>;
  /** The whole message has arrived; decide the answer to the final dot. */
  onData?: (raw: Buffer, envelope: SmtpEnvelope) => MaybePromise<SmtpAnswer>;
}

export interface SmtpServerOptions {
  /** Initial answers; the same object is exposed as `respond`. */
  respond?: SmtpScript;
  /** Require AUTH PLAIN/LOGIN with these credentials (wrong ones get 535). Default: no auth at all. */
  auth?: { user: string; pass: string };
  /** Parse every accepted message with mailparser into `parsed` (default true). */
  parse?: boolean;
  /** Largest message accepted, in bytes (advertised with SIZE). */
  size?: number;
}

export interface TestSmtpServer {
  port: number;
  /** `smtp://127.0.0.1:PORT` (with the credentials when `auth` was given). */
  url: string;
  /** Accepted messages, in the order their DATA was answered. A message is here before its 250 is sent. */
  readonly messages: ReceivedMessage[];
  /** Everything the server refused or dropped, in order. */
  readonly refusals: SmtpRefusal[];
  /** Mutable answers script: assign hooks at any time. */
  respond: SmtpScript;
  /** TCP connections accepted so far, open now, and the most open at once (for connection-pool tests). */
  readonly connections: { total: number; open: number; maxOpen: number };
  /** Resolves once `messages.length >= count`; rejects after `timeoutMs` naming what did arrive. */
  waitFor(count: number, timeoutMs?: number): Promise<void>;
  /** Resolves once `predicate()` holds; re-checked after every hook call, message, refusal and connection change. */
  waitUntil(predicate: () => boolean, timeoutMs?: number, what?: string): Promise<void>;
  /** Forgets recorded messages and refusals (the script stays). */
  clear(): void;
  /** Cuts every open connection and stops listening. */
  close(): Promise<void>;
}

export async function startSmtpServer(opts: SmtpServerOptions = {}): Promise<TestSmtpServer> {
  const respond: SmtpScript = opts.respond ?? {};
  const parse = opts.parse ?? true;
  const messages: ReceivedMessage[] = [];
  const refusals: SmtpRefusal[] = [];
  const connections = { total: 0, open: 0, maxOpen: 0 };
  const sockets = new Set<Socket>();
  const listeners = new Set<() => void>();
  const changed = () => {
    for (const l of [...listeners]) l();
  };

  const envelopeOf = (session: SMTPServerSession): SmtpEnvelope => ({
    from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
    to: session.envelope.rcptTo.map((r) => r.address),
  });

  // smtp-server hands hooks the session, not the socket: find the socket by the client's port.
  const dropConnection = (session: SMTPServerSession) => {
    for (const s of sockets) if (s.remotePort === session.remotePort) s.destroy();
  };

  const refusalError = (r: SmtpReply) => Object.assign(new Error(r.message), { responseCode: r.code });

  /** Runs a hook and turns its answer into what smtp-server's callback expects. */
  function answer(
    stage: SmtpStage,
    session: SMTPServerSession,
    hook: () => MaybePromise<SmtpAnswer>,
    done: (err: Error | null, message?: string) => void,
    details: { address?: string; raw?: Buffer } = {},
    onAccept?: () => Promise<void> | void,
  ): void {
    Promise.resolve()
      .then(() => {
        const pending = hook();
        // Whatever the hook recorded (e.g. a held answer's release function) is visible to waitUntil now.
        changed();
        return pending;
      })
      .catch((err: unknown) => reply(451, (err as Error)?.message ?? String(err)))
      .then(async (a) => {
        if (a === undefined || (a !== 'drop' && a.code < 400)) {
          await onAccept?.();
          return done(null, a?.message);
        }
        refusals.push({ stage, envelope: envelopeOf(session), ...details, answer: a });
        changed();
        if (a === 'drop') dropConnection(session);
        else done(refusalError(a));
      })
      .catch((err: unknown) => done(err as Error));
  }

  const server = new SMTPServer({
    logger: false,
    disabledCommands: opts.auth ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    authOptional: !opts.auth,
    allowInsecureAuth: true,
    ...(opts.size ? { size: opts.size } : {}),
    closeTimeout: 1000,
    onAuth(auth, session, callback) {
      const ok = opts.auth && auth.username === opts.auth.user && auth.password === opts.auth.pass;
      if (ok) return callback(null, { user: auth.username });
      const refusal = reply(535, '5.7.8 Authentication credentials invalid');
      refusals.push({ stage: 'auth', address: auth.username, envelope: envelopeOf(session), answer: refusal });
      changed();
      callback(refusalError(refusal));
    },
    onConnect(session, callback) {
      answer('connect', session, () => respond.onConnect?.({ address: session.remoteAddress, port: session.remotePort }), (err) => callback(err));
    },
    onMailFrom(address: SMTPServerAddress, session, callback) {
      answer('mail', session, () => respond.onMailFrom?.(address.address), (err) => callback(err), { address: address.address });
    },
    onRcptTo(address: SMTPServerAddress, session, callback) {
      answer('rcpt', session, () => respond.onRcpt?.(address.address, envelopeOf(session)), (err) => callback(err), {
        address: address.address,
      });
    },
    onData(stream: SMTPServerDataStream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', (err) => callback(err));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        const envelope = envelopeOf(session);
        if (stream.sizeExceeded) {
          refusals.push({ stage: 'data', envelope, raw, answer: reply(552, '5.3.4 Message too big') });
          changed();
          return callback(refusalError(reply(552, '5.3.4 Message too big')));
        }
        answer('data', session, () => respond.onData?.(raw, envelope), (err, message) => callback(err, message), { raw }, async () => {
          messages.push({ envelope, raw, ...(parse ? { parsed: await simpleParser(raw) } : {}) });
          changed();
        });
      });
    },
  });

  server.server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    connections.total += 1;
    connections.open += 1;
    connections.maxOpen = Math.max(connections.maxOpen, connections.open);
    changed();
    socket.once('close', () => {
      sockets.delete(socket);
      connections.open -= 1;
      changed();
    });
  });
  // A client vanishing mid-session is an expected test scenario, not a crash.
  server.on('error', () => {});

  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.server.off('error', reject);
      resolve();
    });
  });
  const port = (server.server.address() as { port: number }).port;
  const credentials = opts.auth ? `${encodeURIComponent(opts.auth.user)}:${encodeURIComponent(opts.auth.pass)}@` : '';

  function waitUntil(predicate: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!predicate()) return;
        listeners.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(
          new Error(
            `SMTP test server: timed out after ${timeoutMs} ms waiting for ${what} ` +
              `(${messages.length} accepted, ${refusals.length} refused, ${connections.total} connections)`,
          ),
        );
      }, timeoutMs);
      listeners.add(check);
    });
  }

  return {
    port,
    url: `smtp://${credentials}127.0.0.1:${port}`,
    messages,
    refusals,
    connections,
    get respond() {
      return respond;
    },
    set respond(script: SmtpScript) {
      // Keep the same object so hooks captured by the server see the new answers.
      for (const key of Object.keys(respond) as Array<keyof SmtpScript>) delete respond[key];
      Object.assign(respond, script);
    },
    waitFor: (count, timeoutMs = 5000) => waitUntil(() => messages.length >= count, timeoutMs, `${count} message(s)`),
    waitUntil,
    clear() {
      messages.length = 0;
      refusals.length = 0;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
