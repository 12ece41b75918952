import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { SmtpError, SmtpSession, type SessionOptions } from '../../src/sending/smtp-session.js';
import { classifySendError, classifySessionError, stuff } from '../../src/sending/transport.js';
import { reply, startSmtpServer, type TestSmtpServer } from '../helpers/smtp-server.js';

/**
 * SmtpSession against real servers on loopback: the `smtp-server` package (through the test helper,
 * or directly for TLS and AUTH), and a tiny scripted server written here with node:net for what only
 * the raw bytes show (which commands leave together, in which order relative to the replies).
 */

const FROM = 'sender@example.com';

/** A wire-ready message (CRLF line ends, no line starting with a dot). */
const message = (subject: string, body = 'Hello.') => Buffer.from(`From: ${FROM}\r\nSubject: ${subject}\r\n\r\n${body}\r\n`);

// --- cleanup: every server and session a test opens is closed after the file ---

const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function sessionOptions(port: number, extra: Partial<SessionOptions> = {}): SessionOptions {
  return { host: '127.0.0.1', port, secure: false, connectionTimeoutMs: 5000, greetingTimeoutMs: 5000, socketTimeoutMs: 5000, ...extra };
}

async function openSession(port: number, extra: Partial<SessionOptions> = {}): Promise<SmtpSession> {
  const session = await SmtpSession.open(sessionOptions(port, extra));
  cleanups.push(() => session.close());
  return session;
}

/** The SmtpError a promise rejects with (fails the test when it resolves or throws anything else). */
async function failure(promise: Promise<unknown>): Promise<SmtpError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof SmtpError, `expected an SmtpError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

/** Resolves once the session is closed (its onClose fired). */
function closed(session: SmtpSession): Promise<void> {
  return new Promise((resolve) => (session.onClose = resolve));
}

// --- a scripted raw server: records every chunk as it arrives ---

/**
 * Overrides the server's answer to one command line: a reply (the server adds its CRLF), `{ bytes }`
 * written as they are, 'drop' to hang up, or undefined for the default answer.
 */
type RawScript = (line: string) => string | { bytes: string } | 'drop' | undefined;

interface RawServer {
  port: number;
  /** Every chunk the client wrote, as it arrived. */
  chunks: string[];
  /** The conversation in order: "> " + a chunk received, "< " + the replies written for it. */
  log: string[];
  /** Message bodies, as on the wire between the 354 and the final dot. */
  bodies: string[];
  /** Resolves once predicate() holds; re-checked on every chunk. */
  until(predicate: () => boolean): Promise<void>;
  /** Cuts every open connection. */
  dropAll(): void;
}

function defaultAnswer(line: string, extensions: string[]): string {
  switch (line.slice(0, 4).toUpperCase()) {
    case 'EHLO':
      return ['raw.test', ...extensions].map((l, i, all) => `250${i === all.length - 1 ? ' ' : '-'}${l}`).join('\r\n');
    case 'DATA':
      return '354 go ahead';
    case 'QUIT':
      return '221 bye';
    case 'HELO':
    case 'MAIL':
    case 'RCPT':
    case 'RSET':
      return '250 OK';
    default:
      return '500 5.5.1 unknown command';
  }
}

/** A server that greets (unless `greeting` is null), answers by `script` or like a plain relay, and advertises `extensions`. */
async function startRawServer(extensions: string[], script: RawScript = () => undefined, greeting: string | null = '220 raw.test ESMTP'): Promise<RawServer> {
  const chunks: string[] = [];
  const log: string[] = [];
  const bodies: string[] = [];
  const sockets = new Set<Socket>();
  const listeners = new Set<() => void>();

  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffer = '';
    let inData = false;
    socket.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      chunks.push(text);
      log.push(`> ${text}`);
      buffer += text;
      const replies: string[] = [];
      for (;;) {
        if (inData) {
          const end = buffer.indexOf('\r\n.\r\n');
          if (end === -1) break;
          bodies.push(buffer.slice(0, end + 2));
          buffer = buffer.slice(end + 5);
          inData = false;
          replies.push('250 2.0.0 queued\r\n');
          continue;
        }
        const nl = buffer.indexOf('\r\n');
        if (nl === -1) break;
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 2);
        const answer = script(line) ?? defaultAnswer(line, extensions);
        if (answer === 'drop') {
          socket.destroy();
          break;
        }
        const text = typeof answer === 'string' ? `${answer}\r\n` : answer.bytes;
        if (/^DATA$/i.test(line) && text.startsWith('354')) inData = true;
        replies.push(text);
      }
      if (replies.length > 0 && !socket.destroyed) {
        socket.write(replies.join(''));
        log.push(`< ${replies.join('')}`);
      }
      for (const l of [...listeners]) l();
    });
    if (greeting !== null) socket.write(`${greeting}\r\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  const dropAll = () => {
    for (const s of sockets) s.destroy();
  };
  const until = (predicate: () => boolean) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (!predicate()) return;
        listeners.delete(check);
        resolve();
      };
      listeners.add(check);
      check();
    });
  return { port: (server.address() as { port: number }).port, chunks, log, bodies, until, dropAll };
}

/** The MAIL FROM / RCPT TO / DATA lines the session writes for one message on a relay with SIZE and 8BITMIME. */
const envelopeLines = (to: string, size: number) => `MAIL FROM:<${FROM}> SIZE=${size} BODY=8BITMIME\r\nRCPT TO:<${to}>\r\nDATA\r\n`;

// --- the smtp-server package, started directly (TLS, AUTH) ---

interface PackageServer {
  port: number;
  /** Messages received, with whether the session was encrypted. */
  received: Array<{ raw: string; secure: boolean; to: string[] }>;
}

async function startPackageServer(options: SMTPServerOptions): Promise<PackageServer> {
  const received: PackageServer['received'] = [];
  const server = new SMTPServer({
    logger: false,
    authOptional: true,
    ...options,
    onData(stream, session, callback) {
      const parts: Buffer[] = [];
      stream.on('data', (c: Buffer) => parts.push(c));
      stream.on('end', () => {
        received.push({ raw: Buffer.concat(parts).toString('latin1'), secure: session.secure, to: session.envelope.rcptTo.map((r) => r.address) });
        callback(null);
      });
    },
  });
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.server.address() as { port: number }).port, received };
}

/** Sends one message on a fresh session and checks the server received exactly it. */
async function assertDelivers(server: PackageServer, extra: Partial<SessionOptions>, to: string): Promise<void> {
  const session = await openSession(server.port, extra);
  const raw = message(to);
  assert.match(await session.send(FROM, to, raw, true), /^250 /);
  const got = server.received.find((r) => r.to.includes(to));
  assert.ok(got, `${to} was not received`);
  assert.equal(got.raw, raw.toString('latin1'));
}

// ---------------------------------------------------------------------------------------------

describe('SmtpSession against the smtp-server package', () => {
  let smtp: TestSmtpServer;
  before(async () => {
    smtp = await startSmtpServer({ parse: false });
    cleanups.push(() => smtp.close());
  });
  afterEach(() => {
    smtp.respond = {};
    smtp.clear();
  });

  const received = (to: string) => smtp.messages.filter((m) => m.envelope.to.includes(to));

  it('delivers a message byte for byte and returns the relay’s answer', async () => {
    smtp.respond.onData = () => reply(250, '2.0.0 Ok: queued as TEST1');
    const session = await openSession(smtp.port);
    assert.equal(session.pipelining, true, 'smtp-server offers PIPELINING');
    const raw = message('plain', 'First line\r\n=2Eencoded dot\r\n\r\nlast line');
    assert.equal(await session.send(FROM, 'plain@example.com', raw, true), '250 2.0.0 Ok: queued as TEST1');
    const [got] = received('plain@example.com');
    assert.deepEqual(got?.envelope, { from: FROM, to: ['plain@example.com'] });
    assert.deepEqual(got.raw, raw);
    assert.equal(smtp.messages.length, 1);
    assert.equal(session.alive, true);
  });

  it('dot-stuffs a message that is not wire-ready, so it arrives intact and nothing else does', async () => {
    const raw = Buffer.from(`Subject: dots\n\n.leading\nplain\n..two\n.\nMAIL FROM:<smuggled@example.com>\r\n.\rlast`);
    const session = await openSession(smtp.port);
    assert.match(await session.send(FROM, 'stuffed@example.com', raw, false), /^250 /);
    assert.equal(smtp.messages.length, 1, 'no second message was smuggled in');
    assert.equal(received('stuffed@example.com')[0]?.raw.toString('latin1'), `Subject: dots\r\n\r\n.leading\r\nplain\r\n..two\r\n.\r\nMAIL FROM:<smuggled@example.com>\r\n.\r\nlast\r\n`);
  });

  it('refuses a recipient with EENVELOPE at RCPT TO, and sends the next message after reset()', async () => {
    smtp.respond.onRcpt = (address) => (address.startsWith('gone@') ? reply(550, '5.1.1 No such user') : undefined);
    const session = await openSession(smtp.port);
    const err = await failure(session.send(FROM, 'gone@example.com', message('gone'), true));
    assert.equal(err.code, 'EENVELOPE');
    assert.equal(err.command, 'RCPT TO');
    assert.equal(err.responseCode, 550);
    assert.equal(err.dataSent, false);
    assert.deepEqual(classifySendError(err, false), { kind: 'failed', error: err.response, code: 550, suppress: true });
    await session.reset();
    assert.match(await session.send(FROM, 'next@example.com', message('next'), true), /^250 /);
    assert.deepEqual(
      smtp.messages.map((m) => m.envelope.to),
      [['next@example.com']],
    );
  });

  it('refuses a sender with EENVELOPE at MAIL FROM, classified as a relay problem', async () => {
    smtp.respond.onMailFrom = () => reply(550, '5.7.1 Sender not allowed');
    const session = await openSession(smtp.port);
    const err = await failure(session.send(FROM, 'someone@example.com', message('refused sender'), true));
    assert.equal(err.code, 'EENVELOPE');
    assert.equal(err.command, 'MAIL FROM');
    assert.equal(err.responseCode, 550);
    assert.equal(classifySendError(err, false).kind, 'relay');
    assert.equal(smtp.messages.length, 0);
  });

  it('closes the session on a 421 at RCPT TO, classified as throttling', async () => {
    smtp.respond.onRcpt = () => reply(421, '4.7.0 Too many messages, slow down');
    const session = await openSession(smtp.port);
    const gone = closed(session);
    const err = await failure(session.send(FROM, 'throttled@example.com', message('throttled'), true));
    await gone;
    assert.equal(err.responseCode, 421);
    assert.equal(err.dataSent, false);
    assert.equal(session.alive, false);
    assert.deepEqual(classifySendError(err, err.dataSent), { kind: 'retry', error: err.response, code: 421, throttled: true });
    assert.equal(smtp.messages.length, 0);
  });

  it('reports dataSent when the relay hangs up after the final dot: the outcome is unknown', async () => {
    smtp.respond.onData = () => 'drop';
    const session = await openSession(smtp.port);
    const raw = message('dropped');
    const err = await failure(session.send(FROM, 'dropped@example.com', raw, true));
    assert.equal(err.dataSent, true);
    assert.equal(err.responseCode, undefined);
    assert.equal(classifySendError(err, err.dataSent).kind, 'unknown');
    assert.deepEqual(smtp.refusals[0]?.raw, raw, 'the relay had the whole message when it hung up');
  });

  it('reports no dataSent when the relay hangs up before DATA: the message may be retried', async () => {
    smtp.respond.onMailFrom = () => 'drop';
    const session = await openSession(smtp.port);
    const err = await failure(session.send(FROM, 'early@example.com', message('early'), true));
    assert.equal(err.code, 'ECONNECTION');
    assert.equal(err.dataSent, false);
    assert.equal(classifySendError(err, err.dataSent).kind, 'retry');
    assert.equal(session.alive, false);
  });
});

describe('SmtpSession and the relay’s SIZE limit', () => {
  it('refuses a message over SIZE before writing anything, and the session still sends the next one', async () => {
    const smtp = await startSmtpServer({ size: 1000, parse: false });
    cleanups.push(() => smtp.close());
    const senders: string[] = [];
    smtp.respond.onMailFrom = (address) => void senders.push(address);
    const session = await openSession(smtp.port);
    const big = message('big', 'x'.repeat(5000));
    assert.ok(big.length > 5000);
    const err = await failure(session.send(FROM, 'big@example.com', big, true));
    assert.equal(err.code, 'EMESSAGE');
    assert.equal(err.dataSent, false);
    assert.equal(classifySendError(err, false).kind, 'post');
    assert.match(await session.send(FROM, 'small@example.com', message('small'), true), /^250 /);
    // Had the big message's MAIL FROM been written, the relay would have seen it before the small one's.
    assert.deepEqual(senders, [FROM]);
    assert.deepEqual(
      smtp.messages.map((m) => m.envelope.to),
      [['small@example.com']],
    );
  });
});

describe('SmtpSession on the wire', () => {
  it('with PIPELINING, writes the envelope in one packet, and the next envelope with the previous message', async () => {
    const raw = await startRawServer(['PIPELINING', 'SIZE 100000', '8BITMIME']);
    const session = await openSession(raw.port);
    assert.equal(session.pipelining, true);
    const start = raw.chunks.length;
    const first = message('first');
    const second = message('second');

    await session.envelope(FROM, 'one@example.com', first.length);
    assert.deepEqual(raw.chunks.slice(start), [envelopeLines('one@example.com', first.length)]);

    // The same synchronous block: the body, its final dot and the next envelope leave together.
    const answer = session.data(first, true);
    const next = session.envelope(FROM, 'two@example.com', second.length);
    assert.equal(await answer, '250 2.0.0 queued');
    await next;
    assert.deepEqual(raw.chunks.slice(start + 1), [`${first.toString('latin1')}.\r\n${envelopeLines('two@example.com', second.length)}`]);

    assert.equal(await session.data(second, true), '250 2.0.0 queued');
    assert.deepEqual(raw.bodies, [first.toString('latin1'), second.toString('latin1')]);
  });

  it('without PIPELINING, writes one command at a time, each after the answer to the one before', async () => {
    const raw = await startRawServer(['8BITMIME']);
    const session = await openSession(raw.port);
    assert.equal(session.pipelining, false);
    const start = raw.log.length;
    const body = message('one by one');
    assert.equal(await session.send(FROM, 'one@example.com', body, true), '250 2.0.0 queued');
    assert.deepEqual(raw.log.slice(start), [
      `> MAIL FROM:<${FROM}> BODY=8BITMIME\r\n`,
      '< 250 OK\r\n',
      '> RCPT TO:<one@example.com>\r\n',
      '< 250 OK\r\n',
      '> DATA\r\n',
      '< 354 go ahead\r\n',
      `> ${body.toString('latin1')}.\r\n`,
      '< 250 2.0.0 queued\r\n',
    ]);
  });

  it('without PIPELINING, stops at a refused recipient: no DATA, and RSET makes the session usable', async () => {
    const raw = await startRawServer([], (line) => (line.startsWith('RCPT TO:<gone@') ? '550 5.1.1 no such user' : undefined));
    const session = await openSession(raw.port);
    const start = raw.chunks.length;
    const err = await failure(session.send(FROM, 'gone@example.com', message('gone'), true));
    assert.equal(err.command, 'RCPT TO');
    assert.equal(err.responseCode, 550);
    await session.reset();
    assert.deepEqual(raw.chunks.slice(start), [`MAIL FROM:<${FROM}>\r\n`, 'RCPT TO:<gone@example.com>\r\n', 'RSET\r\n']);
    assert.equal(await session.send(FROM, 'there@example.com', message('there'), true), '250 2.0.0 queued');
  });

  it('falls back to HELO when EHLO is refused, and then sends without extensions', async () => {
    const raw = await startRawServer(['PIPELINING'], (line) => (line.startsWith('EHLO ') ? '502 5.5.2 EHLO not supported' : undefined));
    const session = await openSession(raw.port, { clientName: 'client.test' });
    assert.deepEqual(raw.chunks.slice(0, 2), ['EHLO client.test\r\n', 'HELO client.test\r\n']);
    assert.equal(session.pipelining, false);
    assert.equal(await session.send(FROM, 'old@example.com', message('old'), true), '250 2.0.0 queued');
  });

  it('does not count a message as sent when the relay hung up between the 354 and the body', async () => {
    const raw = await startRawServer([]);
    const session = await openSession(raw.port);
    const body = message('too late');
    await session.envelope(FROM, 'late@example.com', body.length);
    const gone = closed(session);
    raw.dropAll();
    await gone;
    const err = await failure(session.data(body, true));
    assert.equal(err.code, 'ECONNECTION');
    assert.equal(err.dataSent, false, 'no byte of the message was written');
    assert.equal(classifySendError(err, err.dataSent).kind, 'retry');
  });

  describe('a relay that does not speak SMTP', () => {
    // Bounded: a parser that waited for more would otherwise hang the file instead of failing.
    const bounded = { timeout: 2000 };

    const garbage: Array<{ what: string; answer: string | { bytes: string }; extensions: string[] }> = [
      { what: 'a reply with no code', answer: 'hello there', extensions: [] },
      { what: 'an HTTP answer', answer: 'HTTP/1.1 400 Bad Request', extensions: [] },
      { what: 'a reply with no code, pipelined', answer: 'hello there', extensions: ['PIPELINING'] },
      { what: 'a line much longer than any reply, with no line end', answer: { bytes: 'x'.repeat(5000) }, extensions: [] },
      { what: 'a line shaped like a continuation ("abc-def")', answer: 'abc-def', extensions: [] },
    ];
    for (const { what, answer, extensions } of garbage) {
      it(`rejects the MAIL FROM with EPROTOCOL on ${what}`, bounded, async () => {
        const raw = await startRawServer(extensions, (line) => (line.startsWith('MAIL ') ? answer : undefined));
        const session = await openSession(raw.port, { socketTimeoutMs: 500 });
        const err = await failure(session.send(FROM, 'x@example.com', message('garbage'), true));
        assert.equal(err.code, 'EPROTOCOL');
        assert.equal(session.alive, false);
      });
    }

    const greetings: Array<{ what: string; greeting: string }> = [
      { what: 'an IMAP greeting', greeting: '* OK IMAP4rev1 ready' },
      { what: 'an SSH greeting', greeting: 'SSH-2.0-OpenSSH_9.6' },
    ];
    for (const { what, greeting } of greetings) {
      it(`rejects the session with EPROTOCOL on ${what}`, bounded, async () => {
        const raw = await startRawServer([], undefined, greeting);
        const err = await failure(SmtpSession.open(sessionOptions(raw.port, { greetingTimeoutMs: 500 })));
        assert.equal(err.code, 'EPROTOCOL');
        assert.equal(err.command, 'CONN');
      });
    }

    it('gives up with ETIMEDOUT on a relay that never greets', async () => {
      const raw = await startRawServer([], undefined, null);
      const err = await failure(SmtpSession.open(sessionOptions(raw.port, { greetingTimeoutMs: 200 })));
      assert.equal(err.code, 'ETIMEDOUT');
      assert.equal(classifySessionError(err).fatal, false);
    });
  });
});

describe('stuff()', () => {
  it('doubles leading dots, makes every line end CRLF and ends with CRLF', () => {
    assert.equal(stuff(Buffer.from('.\r\na\n.b\r..c')).toString('latin1'), '..\r\na\r\n..b\r\n...c\r\n');
    assert.equal(stuff(Buffer.from('')).toString('latin1'), '\r\n');
  });

  it('never lets content end the data before the final dot', () => {
    const pieces = ['.', '..', '\r\n', '\n', '\r', 'x', '.\r\n', '\r\n.\r\n', '\n.\n', '\r.\r'];
    // Every sequence of up to four pieces.
    let texts = [''];
    const all: string[] = [];
    for (let length = 1; length <= 4; length++) {
      texts = texts.flatMap((t) => pieces.map((p) => t + p));
      all.push(...texts);
    }
    for (const text of all) {
      const wire = `${stuff(Buffer.from(text, 'latin1')).toString('latin1')}.\r\n`;
      assert.equal(wire.indexOf('\r\n.\r\n'), wire.length - 5, JSON.stringify(text));
      assert.doesNotMatch(wire, /\r(?!\n)|(?<!\r)\n/, `bare CR or LF in ${JSON.stringify(text)}`);
    }
  });
});

describe('SmtpSession with TLS', () => {
  it('upgrades with STARTTLS when offered, and delivers encrypted', async () => {
    const server = await startPackageServer({});
    await assertDelivers(server, { tls: { rejectUnauthorized: false } }, 'starttls@example.com');
    assert.equal(server.received[0]?.secure, true);
  });

  it('refuses a certificate it cannot verify with ETLS, a fatal session error (STARTTLS and implicit TLS)', async () => {
    for (const secure of [false, true]) {
      const server = await startPackageServer({ secure });
      const err = await failure(SmtpSession.open(sessionOptions(server.port, { secure, tls: { rejectUnauthorized: true } })));
      assert.equal(err.code, 'ETLS', `secure: ${secure}`);
      assert.equal(classifySessionError(err).fatal, true);
      assert.equal(server.received.length, 0);
    }
  });

  it('delivers over implicit TLS', async () => {
    const server = await startPackageServer({ secure: true });
    await assertDelivers(server, { secure: true, tls: { rejectUnauthorized: false } }, 'smtps@example.com');
    assert.equal(server.received[0]?.secure, true);
  });
});

describe('SmtpSession AUTH', () => {
  const USER = 'gazette';
  const PASSWORD = 'pässword 1';

  /** A plain-text relay offering only `method`, recording the credentials it was given. */
  async function startAuthServer(method: 'PLAIN' | 'LOGIN' | 'CRAM-MD5') {
    const seen: Array<{ method: string; username: string | undefined; password: string | undefined; ok: boolean }> = [];
    const server = await startPackageServer({
      hideSTARTTLS: true,
      allowInsecureAuth: true,
      authOptional: false,
      authMethods: [method],
      onAuth(auth, _session, callback) {
        const ok = auth.username === USER && (auth.method === 'CRAM-MD5' ? auth.validatePassword(PASSWORD) : auth.password === PASSWORD);
        seen.push({ method: auth.method, username: auth.username, password: auth.password ?? undefined, ok });
        callback(ok ? null : Object.assign(new Error('5.7.8 Authentication credentials invalid'), { responseCode: 535 }), ok ? { user: USER } : undefined);
      },
    });
    return { server, seen };
  }

  for (const method of ['PLAIN', 'LOGIN', 'CRAM-MD5'] as const) {
    it(`logs in with AUTH ${method} and delivers`, async () => {
      const { server, seen } = await startAuthServer(method);
      await assertDelivers(server, { user: USER, password: PASSWORD }, `${method.toLowerCase()}@example.com`);
      // CRAM-MD5 never sends the password: the server checked the digest against it instead.
      assert.deepEqual(seen, [{ method, username: USER, password: method === 'CRAM-MD5' ? undefined : PASSWORD, ok: true }]);
    });

    it(`fails AUTH ${method} with a wrong password: EAUTH 535, fatal`, async () => {
      const { server, seen } = await startAuthServer(method);
      const err = await failure(SmtpSession.open(sessionOptions(server.port, { user: USER, password: 'wrong' })));
      assert.equal(err.code, 'EAUTH');
      assert.equal(err.responseCode, 535);
      assert.equal(classifySessionError(err).fatal, true);
      assert.deepEqual(seen, [{ method, username: USER, password: method === 'CRAM-MD5' ? undefined : 'wrong', ok: false }]);
      assert.equal(server.received.length, 0);
    });
  }
});
