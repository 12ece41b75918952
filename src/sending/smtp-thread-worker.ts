import { parentPort, workerData } from 'node:worker_threads';
import type { SmtpConfig } from '../config.js';
import { createSmtpPool, type SmtpPoolOptions } from './smtp-pool.js';
import type { SendOutcome } from './transport.js';

/**
 * Worker-thread side of smtp-thread.ts: owns the SMTPConnection pool, so SMTP I/O and the dot-stuffing
 * of message bytes run on their own core and never wait for a database commit on the main thread.
 */

export type ToWorker =
  | { t: 'send'; batch: Array<{ id: number; from: string; to: string; raw: Uint8Array; messageId: string; subject: string }> }
  | { t: 'probe'; id: number }
  | { t: 'close' };

export type FromWorker =
  | { t: 'done'; results: Array<[number, SendOutcome]> }
  | { t: 'probed'; id: number; result: { ok: true } | { ok: false; error: string } }
  | { t: 'closed' }
  | { t: 'up' };

const { smtp, options } = workerData as { smtp: SmtpConfig; options: SmtpPoolOptions };
const pool = createSmtpPool(smtp, options);
const port = parentPort!;

// Outcomes of one event-loop turn go back together.
let results: Array<[number, SendOutcome]> = [];
const flush = () => {
  const batch = results;
  results = [];
  port.postMessage({ t: 'done', results: batch } satisfies FromWorker);
};

port.postMessage({ t: 'up' } satisfies FromWorker);

port.on('message', (msg: ToWorker) => {
  if (msg.t === 'send') {
    for (const m of msg.batch) {
      const raw = Buffer.from(m.raw.buffer, m.raw.byteOffset, m.raw.byteLength);
      pool
        .send({ from: m.from, to: m.to, raw, messageId: m.messageId, subject: m.subject })
        .catch((err: unknown): SendOutcome => ({ kind: 'retry', error: `internal error: ${(err as Error).message}` }))
        .then((outcome) => {
          if (results.length === 0) setImmediate(flush);
          results.push([m.id, outcome]);
        });
    }
  } else if (msg.t === 'probe') {
    void pool.probe().then((result) => port.postMessage({ t: 'probed', id: msg.id, result } satisfies FromWorker));
  } else if (msg.t === 'close') {
    void pool.close().then(() => port.postMessage({ t: 'closed' } satisfies FromWorker));
  }
});
