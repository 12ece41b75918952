import { createServer, type Socket } from 'node:net';

/**
 * A plain SMTP relay written with node:net, for what the `smtp-server` package cannot script: hanging up
 * in the middle of a message's data (before its final dot arrived), or right after the final dot with
 * no answer. It advertises PIPELINING and 8BITMIME (or `extensions`), answers every command like a relay
 * that accepts everything, and asks two hooks what to do:
 *
 *   onBody(to)       the first bytes of a message's data arrived: 'reset' cuts the connection at once
 *                    (TCP reset: the rest of the message and its final dot never arrive)
 *   onMessage(to)    the whole message and its final dot arrived: 'drop' hangs up without answering
 *
 * Anything else accepts. Nothing here waits on a timer: `until` resolves on the relay's own events.
 */
export type RawVerdict = 'reset' | 'drop' | undefined;

export interface RawRelay {
  port: number;
  url: string;
  onBody: (to: string) => RawVerdict;
  onMessage: (to: string) => RawVerdict;
  /** Messages answered 250: recipient and data (without the final dot). */
  readonly accepted: Array<{ to: string; data: Buffer }>;
  /** What the relay cut or dropped, in order: the recipient, where, and how much data it had read. */
  readonly cut: Array<{ to: string; at: 'body' | 'end'; bytes: number }>;
  /** Every chunk received, in order, as latin1 text (for what went out in one write). */
  readonly chunks: string[];
  /** Resolves once predicate() holds; re-checked on every chunk and connection close. */
  until(predicate: () => boolean): Promise<void>;
  close(): Promise<void>;
}

const END_OF_DATA = Buffer.from('\r\n.\r\n');

export async function startRawRelay(extensions: string[] = ['PIPELINING', '8BITMIME']): Promise<RawRelay> {
  const sockets = new Set<Socket>();
  const listeners = new Set<() => void>();
  const changed = () => {
    for (const l of [...listeners]) l();
  };

  const relay: RawRelay = {
    port: 0,
    url: '',
    onBody: () => undefined,
    onMessage: () => undefined,
    accepted: [],
    cut: [],
    chunks: [],
    until: (predicate) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (!predicate()) return;
          listeners.delete(check);
          resolve();
        };
        listeners.add(check);
        check();
      }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };

  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => {
      sockets.delete(socket);
      changed();
    });
    socket.on('error', () => {});
    let pending = Buffer.alloc(0);
    let to = '';
    /** Data of the current message, once DATA was answered 354. */
    let data: Buffer[] | undefined;
    let firstBody = true;

    socket.on('data', (chunk: Buffer) => {
      relay.chunks.push(chunk.toString('latin1'));
      pending = Buffer.concat([pending, chunk]);
      const replies: string[] = [];
      for (;;) {
        if (data) {
          if (firstBody && pending.length > 0) {
            firstBody = false;
            if (relay.onBody(to) === 'reset') {
              relay.cut.push({ to, at: 'body', bytes: pending.length });
              socket.resetAndDestroy();
              return changed();
            }
          }
          // The final dot may span chunks: search the data kept so far together with this chunk.
          const end = pending.indexOf(END_OF_DATA);
          if (end === -1) {
            // Keep the last 4 bytes, which may start the end of data.
            const keep = Math.max(0, pending.length - 4);
            data.push(pending.subarray(0, keep));
            pending = pending.subarray(keep);
            break;
          }
          data.push(pending.subarray(0, end + 2));
          const message = Buffer.concat(data);
          pending = pending.subarray(end + END_OF_DATA.length);
          data = undefined;
          if (relay.onMessage(to) === 'drop') {
            relay.cut.push({ to, at: 'end', bytes: message.length });
            socket.destroy();
            return changed();
          }
          relay.accepted.push({ to, data: message });
          replies.push('250 2.0.0 queued');
          continue;
        }
        const nl = pending.indexOf('\r\n');
        if (nl === -1) break;
        const line = pending.subarray(0, nl).toString('latin1');
        pending = pending.subarray(nl + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO') replies.push(['raw.test', ...extensions].map((l, i, all) => `250${i === all.length - 1 ? ' ' : '-'}${l}`).join('\r\n'));
        else if (verb === 'RCPT') {
          to = /<([^>]*)>/.exec(line)?.[1] ?? '';
          replies.push('250 OK');
        } else if (verb === 'DATA') {
          data = [];
          firstBody = true;
          replies.push('354 go ahead');
        } else if (verb === 'QUIT') {
          socket.end('221 bye\r\n');
          return changed();
        } else replies.push(verb === 'HELO' || verb === 'MAIL' || verb === 'RSET' || verb === 'NOOP' ? '250 OK' : '500 5.5.1 unknown command');
      }
      if (replies.length > 0) socket.write(`${replies.join('\r\n')}\r\n`);
      changed();
    });
    socket.write('220 raw.test ESMTP\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  relay.port = (server.address() as { port: number }).port;
  relay.url = `smtp://127.0.0.1:${relay.port}`;
  return relay;
}
