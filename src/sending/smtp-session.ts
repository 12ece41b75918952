import { createHmac } from 'node:crypto';
import type { Socket } from 'node:net';
import { dial, defaultName, SmtpError, startTls, type Reply, type SessionOptions } from './smtp-dial.js';
import { stuff } from './transport.js';

export { SmtpError, type Reply, type SessionOptions } from './smtp-dial.js';

/**
 * One SMTP client session for the bulk sender: connect (plain, implicit TLS or STARTTLS), EHLO, AUTH,
 * then pre-built messages one after another. It does what the send path needs and nothing else,
 * because on this path every microsecond per message counts (nodemailer's SMTPConnection costs several
 * times the CPU per message): the envelope goes out in one write (RFC 2920 PIPELINING
 * when offered), the message and its terminating dot in one more, replies are parsed from short strings.
 *
 * Failures are `SmtpError`s shaped as transport.ts classifies them: `code` (ECONNECTION, ETIMEDOUT,
 * ETLS, EAUTH, EENVELOPE, EMESSAGE, EPROTOCOL), the relay's `responseCode` and `response` when it
 * answered, the `command` it answered, and `dataSent` when the message's final dot may have reached the
 * relay: only then can a lost connection have delivered it (see `Terminator`).
 */

type Waiter = { command: string; settle: (r: Reply) => void; reject: (e: SmtpError) => void };
type Write = { bytes: Buffer; done?: (err?: Error | null) => void };

/**
 * A message's final dot on its way out. A relay delivers nothing before it has the whole dot, so a
 * connection lost before the dot was handed to the operating system cannot have delivered the message.
 *   out       the write that carries it completed while the connection was up: it may have arrived
 *   unsent    its write never left this process (the connection was gone first)
 *   pending   neither; when the connection fails in this state, the write was cut somewhere
 * `shared` says that bytes written after the dot (the next envelope) may have gone in the same write:
 * a write cut somewhere after the dot then leaves it unknown whether the dot went out.
 */
interface Terminator {
  state: 'pending' | 'out' | 'unsent';
  shared: boolean;
}

/** Write errors that mean the bytes never reached the operating system. */
const NEVER_WRITTEN = new Set(['ERR_STREAM_DESTROYED', 'ERR_STREAM_WRITE_AFTER_END']);

/**
 * Messages up to this size carry the next envelope in their own write (one packet, one round trip per
 * message): their write almost always completes at once. A bigger message, or one on a connection still
 * busy with earlier bytes, may take many writes: its dot ends its own write, and what follows waits for
 * that write to complete, so a connection lost on the way says exactly whether the dot went out.
 */
const RIDE_ALONG_MAX = 64 * 1024;

const CRLF_DOT_CRLF = Buffer.from('.\r\n');
const CONTINUED = /^\d{3}-/;
/** Envelope addresses are written between angle brackets: nothing that could end the command or the bracket. */
const ENVELOPE_SAFE = /^[\x21-\x3b\x3d\x3f-\x7e]*$/;

export class SmtpSession {
  private socket: Socket;
  private waiters: Waiter[] = [];
  private pending = '';
  private lines: string[] = [];
  private extensions = new Map<string, string>();
  private closedError: SmtpError | undefined;
  private corked = false;
  /** The last message's final dot until its write completes: what is written after it may share its write. */
  private lastDot: Terminator | undefined;
  /** Writes held back until a final dot's write completes (a message sent alone, see RIDE_ALONG_MAX). */
  private held: { until: Terminator; writes: Write[] } | undefined;
  /** Called once when the connection is gone, whoever closed it. */
  onClose: (() => void) | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.attach(socket);
  }

  /** Opens a session ready for `send`; rejects with an SmtpError saying where it failed. */
  static async open(o: SessionOptions): Promise<SmtpSession> {
    const socket = await dial(o);
    const session = new SmtpSession(socket);
    try {
      session.timeout(o.greetingTimeoutMs);
      const greeting = await session.expect('CONN');
      if (greeting.code !== 220) throw new SmtpError(`The relay refused the session: ${greeting.text}`, 'EPROTOCOL', greeting, 'CONN');
      await session.hello(o.clientName ?? defaultName(socket));
      if (!o.secure && session.extensions.has('STARTTLS')) {
        const answer = await session.command('STARTTLS');
        if (answer.code !== 220) throw new SmtpError(`STARTTLS was refused: ${answer.text}`, 'ETLS', answer, 'STARTTLS');
        await session.upgrade(o);
        await session.hello(o.clientName ?? defaultName(socket));
      }
      if (o.user) await session.login(o.user, o.password ?? '');
      session.timeout(o.socketTimeoutMs);
      return session;
    } catch (err) {
      session.close();
      throw err;
    }
  }

  get alive(): boolean {
    return this.closedError === undefined;
  }

  /** Whether the relay takes commands in groups (RFC 2920): only then may the next envelope follow a message at once. */
  get pipelining(): boolean {
    return this.extensions.has('PIPELINING');
  }

  /** Sends one message to one recipient; resolves with the relay's answer to the final dot. */
  async send(from: string, to: string, raw: Buffer, wireReady: boolean): Promise<string> {
    await this.envelope(from, to, raw.length);
    return this.data(raw, wireReady);
  }

  /**
   * Opens a transaction: MAIL FROM, RCPT TO and DATA (in one write with PIPELINING). Resolves once the
   * relay said 354 and waits for the message; after that only `data` or `close` may follow. When it
   * rejects, the relay has nothing of this message, and `reset` makes the session usable again.
   */
  async envelope(from: string, to: string, size: number): Promise<void> {
    for (const [address, command] of [
      [from, 'MAIL FROM'],
      [to, 'RCPT TO'],
    ] as const) {
      if (!ENVELOPE_SAFE.test(address)) {
        throw new SmtpError('The address cannot be written in an SMTP envelope', 'EENVELOPE', { code: 553, text: `553 5.1.3 Not sent: ${JSON.stringify(address)} is not a valid envelope address` }, command);
      }
    }
    const limit = Number(this.extensions.get('SIZE') ?? 0);
    if (limit > 0 && size > limit) throw new SmtpError(`Message size larger than allowed ${limit}`, 'EMESSAGE', undefined, 'MAIL FROM');
    let params = '';
    if (this.extensions.has('SIZE')) params += ` SIZE=${size}`;
    // Declaring 8BITMIME says the body MAY hold 8-bit bytes (RFC 6152): right for 7-bit messages too,
    // and cheaper than scanning every message for one.
    if (this.extensions.has('8BITMIME')) params += ' BODY=8BITMIME';
    const mail = `MAIL FROM:<${from}>${params}\r\n`;
    const rcpt = `RCPT TO:<${to}>\r\n`;
    let mailReply: Reply, rcptReply: Reply, dataReply: Reply;
    if (this.pipelining) {
      const replies = [this.expect('MAIL FROM'), this.expect('RCPT TO'), this.expect('DATA')] as const;
      this.write(mail + rcpt + 'DATA\r\n');
      [mailReply, rcptReply, dataReply] = await Promise.all(replies);
    } else {
      mailReply = await this.command(mail, 'MAIL FROM');
      if (mailReply.code !== 250) throw envelopeError(mailReply, 'MAIL FROM');
      rcptReply = await this.command(rcpt, 'RCPT TO');
      if (rcptReply.code !== 250 && rcptReply.code !== 251) throw envelopeError(rcptReply, 'RCPT TO');
      dataReply = await this.command('DATA\r\n', 'DATA');
    }
    if (mailReply.code !== 250 || (rcptReply.code !== 250 && rcptReply.code !== 251)) {
      // A relay that took DATA with no valid recipient: end the empty transaction (it delivers nothing).
      if (dataReply.code === 354) await this.command('.\r\n', 'DATA');
      throw mailReply.code !== 250 ? envelopeError(mailReply, 'MAIL FROM') : envelopeError(rcptReply, 'RCPT TO');
    }
    if (dataReply.code !== 354) throw new SmtpError(`DATA was refused: ${dataReply.text}`, 'EMESSAGE', dataReply, 'DATA');
  }

  /**
   * The message of the open transaction and its final dot; resolves with the relay's answer. `raw` is
   * sent as it is when `wireReady` (CRLF line ends, no line starting with a dot), else dot-stuffed.
   * Everything it writes before its first await, so an `envelope` called right after it (same turn)
   * leaves in the same packet: with PIPELINING the next message's envelope rides with this one (a big
   * message's goes right after it, see RIDE_ALONG_MAX).
   */
  async data(raw: Buffer, wireReady: boolean): Promise<string> {
    const body = wireReady ? raw : stuff(raw);
    // A session already gone writes nothing: then the relay cannot have any of it.
    const terminator: Terminator = { state: this.alive ? 'pending' : 'unsent', shared: false };
    // Whether what is written next waits for this dot's write (see RIDE_ALONG_MAX).
    const alone = body.length > RIDE_ALONG_MAX || this.socket.writableLength > 0;
    const done = this.expect('DATA');
    this.writeBytes(body);
    this.writeBytes(CRLF_DOT_CRLF, (err) => this.terminatorWritten(terminator, err));
    if (terminator.state === 'pending') {
      this.lastDot = terminator;
      if (alone) this.held ??= { until: terminator, writes: [] };
    }
    let answer: Reply;
    try {
      answer = await done;
    } catch (err) {
      const mayHaveArrived = terminator.state === 'out' || (terminator.state === 'pending' && terminator.shared);
      if (mayHaveArrived && err instanceof SmtpError) throw new SmtpError(err.message, err.code, err.reply, 'DATA', true);
      throw err;
    }
    if (answer.code >= 200 && answer.code < 300) return answer.text;
    throw new SmtpError(`The message was refused: ${answer.text}`, 'EMESSAGE', answer, 'DATA', true);
  }

  /** Ends a transaction the relay refused, so the session can take the next message. */
  async reset(): Promise<void> {
    const answer = await this.command('RSET\r\n', 'RSET');
    if (answer.code !== 250) throw new SmtpError(`RSET was refused: ${answer.text}`, 'EPROTOCOL', answer, 'RSET');
  }

  /** Says goodbye and closes (without waiting for the answer). */
  quit(): void {
    if (!this.alive) return;
    this.socket.end('QUIT\r\n');
    this.fail(new SmtpError('The session was closed', 'ECONNECTION'));
  }

  close(): void {
    this.fail(new SmtpError('The session was closed', 'ECONNECTION'));
    this.socket.destroy();
  }

  // --- the conversation ---

  private attach(socket: Socket): void {
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('timeout', () => {
      // Timers run before the callbacks of writes that completed in the last poll: one turn later, a
      // final dot that did go out is known as such.
      setImmediate(() => {
        this.fail(new SmtpError('The relay did not answer in time', 'ETIMEDOUT'));
        socket.destroy();
      });
    });
    socket.on('error', (err: NodeJS.ErrnoException) => this.fail(new SmtpError(`Connection error: ${err.message}`, err.code === 'ETIMEDOUT' ? 'ETIMEDOUT' : 'ECONNECTION')));
    // The relay hung up: nothing written after this reaches a relay that reads it (our side closes too).
    socket.on('end', () => this.fail(new SmtpError('The relay closed the connection', 'ECONNECTION')));
    socket.on('close', () => this.fail(new SmtpError('The relay closed the connection', 'ECONNECTION')));
  }

  private timeout(ms: number): void {
    this.socket.setTimeout(ms);
  }

  private write(text: string): void {
    this.writeBytes(Buffer.from(text, 'latin1'));
  }

  /** Writes of one turn leave together (one writev), whatever their number. */
  private writeBytes(bytes: Buffer, done?: (err?: Error | null) => void): void {
    if (this.closedError) return;
    if (this.held) {
      this.held.writes.push({ bytes, ...(done ? { done } : {}) });
      return;
    }
    if (this.lastDot?.state === 'pending') this.lastDot.shared = true;
    const socket = this.socket;
    if (!this.corked) {
      this.corked = true;
      socket.cork();
      process.nextTick(() => {
        this.corked = false;
        socket.uncork();
      });
    }
    socket.write(bytes, done);
  }

  /** The write carrying a final dot completed (or failed); held writes may go now. */
  private terminatorWritten(terminator: Terminator, err: Error | null | undefined): void {
    // A write that completes after the connection failed was cut or cancelled, not delivered whole.
    if (terminator.state === 'pending') {
      if (!err && this.alive) terminator.state = 'out';
      else if (err && NEVER_WRITTEN.has((err as NodeJS.ErrnoException).code ?? '')) terminator.state = 'unsent';
    }
    if (this.lastDot === terminator) this.lastDot = undefined;
    if (this.held?.until !== terminator) return;
    const { writes } = this.held;
    this.held = undefined;
    if (this.alive) for (const w of writes) this.writeBytes(w.bytes, w.done);
  }

  private expect(command: string): Promise<Reply> {
    if (this.closedError) return Promise.reject(this.closedError);
    // Rejections come from fail(), which empties the queue with the error that closed the session.
    return new Promise((settle, reject) => this.waiters.push({ command, settle, reject }));
  }

  private command(line: string, name = line.trim().split(' ')[0]!): Promise<Reply> {
    const answer = this.expect(name);
    this.write(line.endsWith('\r\n') ? line : `${line}\r\n`);
    return answer;
  }

  private receive(chunk: Buffer): void {
    const text = this.pending + chunk.toString('latin1');
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl === -1) break;
      const line = text.slice(start, text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl);
      start = nl + 1;
      this.lines.push(line);
      // "250-…" continues a reply; "250 …" (or a bare "250") ends it.
      if (CONTINUED.test(line)) continue;
      const lines = this.lines;
      this.lines = [];
      const code = Number(line.slice(0, 3));
      const reply: Reply = { code: Number.isInteger(code) && code >= 200 && code < 600 ? code : 0, text: lines.length === 1 ? line : lines.join(' ') };
      if (lines.length > 1) reply.lines = lines;
      if (reply.code === 421) {
        // The relay is closing the session: this answer is for whatever was asked, and nothing more will come.
        this.fail(new SmtpError(`The relay is closing the session: ${reply.text}`, 'ECONNECTION', reply, this.waiters[0]?.command));
        this.socket.destroy();
        return;
      }
      if (reply.code === 0) {
        // fail() rejects every waiter, the one this line answered included.
        this.fail(new SmtpError(`The relay's answer is not SMTP: ${reply.text.slice(0, 200)}`, 'EPROTOCOL', undefined, this.waiters[0]?.command));
        this.socket.destroy();
        return;
      }
      const waiter = this.waiters.shift();
      if (!waiter) {
        this.fail(new SmtpError(`The relay answered nothing that was asked: ${reply.text}`, 'EPROTOCOL', reply));
        this.socket.destroy();
        return;
      }
      waiter.settle(reply);
    }
    this.pending = text.slice(start);
    if (this.pending.length > 4096) {
      this.fail(new SmtpError('The relay sent an over-long line', 'EPROTOCOL'));
      this.socket.destroy();
    }
  }

  private fail(err: SmtpError): void {
    if (this.closedError) return;
    this.closedError = err;
    for (const w of this.waiters.splice(0)) w.reject(err);
    const onClose = this.onClose;
    this.onClose = undefined;
    onClose?.();
  }

  private async hello(name: string): Promise<void> {
    let answer = await this.command(`EHLO ${name}`, 'EHLO');
    this.extensions = new Map();
    if (answer.code !== 250) {
      // A relay that does not speak ESMTP: plain HELO, no extensions.
      answer = await this.command(`HELO ${name}`, 'HELO');
      if (answer.code !== 250) throw new SmtpError(`The relay refused HELO: ${answer.text}`, 'EPROTOCOL', answer, 'HELO');
      return;
    }
    for (const line of (answer.lines ?? []).slice(1)) {
      const m = /^([A-Za-z0-9][A-Za-z0-9-]*)(?:[ =](.*))?$/.exec(line.slice(4).trim());
      if (m) this.extensions.set(m[1]!.toUpperCase(), (m[2] ?? '').trim());
    }
  }

  private async upgrade(o: SessionOptions): Promise<void> {
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('timeout');
    plain.removeAllListeners('close');
    plain.removeAllListeners('end');
    plain.removeAllListeners('error');
    // The TLS socket reports what goes wrong from here on; an error on the plain one must not go unheard.
    plain.on('error', () => undefined);
    const secured = await startTls(plain, o);
    this.socket = secured;
    this.attach(secured);
    this.timeout(o.greetingTimeoutMs);
  }

  private async login(user: string, password: string): Promise<void> {
    const offered = new Set((this.extensions.get('AUTH') ?? '').toUpperCase().split(/\s+/).filter(Boolean));
    const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
    let answer: Reply;
    if (offered.has('PLAIN') || offered.size === 0) {
      answer = await this.command(`AUTH PLAIN ${b64(`\0${user}\0${password}`)}`, 'AUTH PLAIN');
    } else if (offered.has('LOGIN')) {
      answer = await this.command('AUTH LOGIN', 'AUTH LOGIN');
      if (answer.code === 334) answer = await this.command(b64(user), 'AUTH LOGIN');
      if (answer.code === 334) answer = await this.command(b64(password), 'AUTH LOGIN');
    } else if (offered.has('CRAM-MD5')) {
      answer = await this.command('AUTH CRAM-MD5', 'AUTH CRAM-MD5');
      if (answer.code === 334) {
        const challenge = Buffer.from(answer.text.slice(4).trim(), 'base64').toString('latin1');
        answer = await this.command(b64(`${user} ${createHmac('md5', password).update(challenge).digest('hex')}`), 'AUTH CRAM-MD5');
      }
    } else {
      throw new SmtpError(`The relay offers no login method Gazette can use (AUTH ${[...offered].join(' ')})`, 'EAUTH', undefined, 'AUTH');
    }
    if (answer.code !== 235) throw new SmtpError(`Invalid login: ${answer.text}`, 'EAUTH', answer, 'AUTH');
  }
}

function envelopeError(reply: Reply, command: string): SmtpError {
  return new SmtpError(`${command === 'MAIL FROM' ? 'The sender' : 'The recipient'} was refused: ${reply.text}`, 'EENVELOPE', reply, command);
}
