import { connect, type Socket } from 'node:net';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';

/**
 * The two ceilings a Gazette send is compared with, into the same sink with the same message size and
 * connection count: (a) nodemailer's SMTPConnection sending pre-built messages as fast as it can (the
 * library ceiling), and (b) a minimal pipelined writer of pre-built bytes (the physical ceiling).
 */

export interface CeilingResult {
  messages: number;
  seconds: number;
  rate: number;
}

/** A pre-built message of `size` bytes for the ceilings. */
export function ceilingMessage(size: number): Buffer {
  return Buffer.from(`From: a@bench.example\r\nTo: b@bench.example\r\nSubject: ceiling\r\n\r\n${'x'.repeat(76)}\r\n`.padEnd(size, 'y') + '\r\n');
}

function recipient(i: number): string {
  return `ceiling-${i}@bench.example`;
}

export async function libraryCeiling(port: number, message: Buffer, total: number, connections: number): Promise<CeilingResult> {
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      const conn = new SMTPConnection({ host: '127.0.0.1', port, ignoreTLS: true, name: 'bench.local' });
      await new Promise<void>((resolve, reject) => {
        conn.once('error', reject);
        conn.connect(() => resolve());
      });
      while (next < total) {
        const i = next++;
        await new Promise<void>((resolve, reject) =>
          conn.send({ from: 'bench@bench.example', to: [recipient(i)] }, message, (err) => (err ? reject(err) : resolve())),
        );
      }
      conn.quit();
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { messages: total, seconds, rate: total / seconds };
}

/** Dot-stuffs and terminates a message body once, so the writer only copies bytes. */
export function dataBlock(message: Buffer): Buffer {
  const text = message.toString('latin1').replace(/\r?\n/g, '\r\n').replace(/(^|\r\n)\./g, '$1..');
  return Buffer.from(text + (text.endsWith('\r\n') ? '' : '\r\n') + '.\r\n', 'latin1');
}

export async function physicalCeiling(port: number, message: Buffer, total: number, connections: number): Promise<CeilingResult> {
  const body = dataBlock(message);
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: connections }, () => pipelinedConnection(port, body, () => (next < total ? next++ : -1))));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { messages: total, seconds, rate: total / seconds };
}

/**
 * RFC 2920 pipelining: MAIL, RCPT and DATA go in one write; after the 354 the message and the next
 * envelope go in one write. One round trip per message.
 */
function pipelinedConnection(port: number, body: Buffer, take: () => number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    let buffer = '';
    let stage: 'greeting' | 'ehlo' | 'envelope' | 'data' = 'greeting';
    let expected = 0;
    let current = -1;
    const envelope = (i: number) => `MAIL FROM:<bench@bench.example>\r\nRCPT TO:<${recipient(i)}>\r\nDATA\r\n`;
    const startNext = (prefix?: Buffer) => {
      current = take();
      if (current < 0) {
        socket.end(prefix ? Buffer.concat([prefix, Buffer.from('QUIT\r\n')]) : 'QUIT\r\n');
        return;
      }
      const env = Buffer.from(envelope(current));
      socket.write(prefix ? Buffer.concat([prefix, env]) : env);
      stage = 'envelope';
      expected = prefix ? 4 : 3; // (250 for the previous data) + 250 MAIL + 250 RCPT + 354 DATA
    };
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      for (;;) {
        const nl = buffer.indexOf('\r\n');
        if (nl === -1) return;
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 2);
        if (line[3] === '-') continue; // multi-line reply continues
        const code = Number(line.slice(0, 3));
        if (stage === 'greeting') {
          socket.write('EHLO bench.local\r\n');
          stage = 'ehlo';
        } else if (stage === 'ehlo') {
          startNext();
        } else if (stage === 'envelope') {
          if (code >= 400) return reject(new Error(`sink refused: ${line}`));
          expected -= 1;
          if (expected === 0) {
            // 354 received: send the message and, in the same write, the next envelope.
            startNext(body);
          }
        }
      }
    });
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
}
