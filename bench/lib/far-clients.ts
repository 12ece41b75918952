import { connect, type Socket } from 'node:net';
import nodemailer from 'nodemailer';
import { dataBlock, type CeilingResult } from './ceilings.js';

/**
 * The senders a Gazette send to a far relay is compared with, into the same delay line and sink:
 *   - a strictly sequential SMTP client, as Go's net/smtp drives a session (listmonk's pool): every
 *     command waits for its answer — MAIL, RCPT, DATA, the message, then RSET — five round trips a message;
 *   - nodemailer's pooled transport and its `sendMail()`, as most Node senders use it.
 * Both send pre-built messages, so only their round trips and their own CPU separate them from Gazette.
 */

const FROM = 'bench@bench.example';

/** Answers read off one socket, one per `next()`, multi-line replies joined. */
function replies(socket: Socket) {
  let buffer = '';
  let lines: string[] = [];
  const ready: string[] = [];
  const waiting: Array<{ resolve: (r: string) => void; reject: (e: Error) => void }> = [];
  let failed: Error | undefined;
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    for (let nl = buffer.indexOf('\r\n'); nl !== -1; nl = buffer.indexOf('\r\n')) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 2);
      lines.push(line);
      if (line[3] === '-') continue;
      const reply = lines.join('\n');
      lines = [];
      const w = waiting.shift();
      if (w) w.resolve(reply);
      else ready.push(reply);
    }
  });
  const fail = (e: Error) => {
    failed ??= e;
    for (const w of waiting.splice(0)) w.reject(failed);
  };
  socket.on('error', fail);
  socket.on('close', () => fail(new Error('connection closed')));
  return {
    next(): Promise<string> {
      const r = ready.shift();
      if (r !== undefined) return Promise.resolve(r);
      if (failed) return Promise.reject(failed);
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
  };
}

/** One command, then its answer, which must start with `code`. */
async function ask(socket: Socket, answers: ReturnType<typeof replies>, line: string | Buffer, code: string): Promise<void> {
  socket.write(line);
  const reply = await answers.next();
  if (!reply.startsWith(code)) throw new Error(`sequential client: expected ${code}, got ${reply.slice(0, 200)}`);
}

/** `total` messages over `connections` sessions, each command awaited (see above); recipients `${prefix}-i@…`. */
export async function sequentialClient(port: number, message: Buffer, total: number, connections: number, prefix: string): Promise<CeilingResult> {
  const body = dataBlock(message);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      const socket = connect(port, '127.0.0.1');
      socket.setNoDelay(true);
      const answers = replies(socket);
      if (!(await answers.next()).startsWith('220')) throw new Error('sequential client: no greeting');
      await ask(socket, answers, 'EHLO bench.local\r\n', '250');
      while (next < total) {
        const i = next++;
        await ask(socket, answers, `MAIL FROM:<${FROM}>\r\n`, '250');
        await ask(socket, answers, `RCPT TO:<${prefix}-${i}@bench.example>\r\n`, '250');
        await ask(socket, answers, 'DATA\r\n', '354');
        await ask(socket, answers, body, '250');
        await ask(socket, answers, 'RSET\r\n', '250');
      }
      socket.end('QUIT\r\n');
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { messages: total, seconds, rate: total / seconds };
}

/**
 * The round trip the line really gives: `samples` NOOPs on one session, each awaited, spread out so they
 * do not queue behind each other; the mean in milliseconds. It includes the sink's answer (microseconds).
 */
export async function measuredRoundTrip(port: number, samples = 40): Promise<number> {
  const socket = connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  const answers = replies(socket);
  if (!(await answers.next()).startsWith('220')) throw new Error('round-trip probe: no greeting');
  await ask(socket, answers, 'EHLO bench.local\r\n', '250');
  let total = 0;
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    await ask(socket, answers, 'NOOP\r\n', '250');
    total += performance.now() - t0;
    await new Promise((r) => setTimeout(r, 3 + (i % 5)));
  }
  socket.end('QUIT\r\n');
  return total / samples;
}

/** `total` messages through nodemailer's pooled transport, `connections` sessions, a window of sendMail() calls. */
export async function nodemailerPool(port: number, message: Buffer, total: number, connections: number, prefix: string): Promise<CeilingResult> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port, pool: true, maxConnections: connections, maxMessages: Infinity, ignoreTLS: true, name: 'bench.local' });
  let next = 0;
  const started = performance.now();
  // Enough calls in flight to keep every connection busy, as a sender looping over its list would.
  await Promise.all(
    Array.from({ length: connections * 4 }, async () => {
      while (next < total) {
        const i = next++;
        await transport.sendMail({ envelope: { from: FROM, to: [`${prefix}-${i}@bench.example`] }, raw: message });
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  transport.close();
  return { messages: total, seconds, rate: total / seconds };
}
