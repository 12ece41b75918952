import type { MessagePort } from 'node:worker_threads';
import type { SmtpConfig } from '../config.js';
import { renderWire, wireTemplate, type MessageTemplate, type Recipient, type WireTemplate } from './message.js';
import { createSmtpPool, type SmtpPoolOptions } from './smtp-pool.js';
import type { OutgoingRaw, SendOutcome } from './transport.js';

/**
 * The background thread's side of smtp-thread.ts, a role of the shared host thread (lib/thread-host.ts):
 * owns the SMTP pool (smtp-pool.ts) and renders the messages it sends from their post's template, so
 * rendering, SMTP I/O and the message bytes live on their own core and never wait for a database commit on
 * the main thread.
 */

export type ToWorker =
  | { t: 'send'; batch: Array<WorkerMessage> }
  /** Gated messages (sent with `gated`) that may go now, and ones that must not. */
  | { t: 'gates'; go: number[]; cancel: number[] }
  /** A post's template, kept under `id` until `drop` says otherwise. */
  | { t: 'template'; id: number; template: MessageTemplate; drop?: number }
  | { t: 'probe'; id: number }
  | { t: 'close' };

export type FromWorker =
  /** A null outcome: a gated message that was cancelled, never sent. */
  | { t: 'done'; results: Array<[number, SendOutcome | null]> }
  | { t: 'probed'; id: number; result: { ok: true } | { ok: false; error: string } }
  | { t: 'closed' }
  | { t: 'up' };

export type WorkerMessage = (
  | { id: number; from: string; to: string; raw: Uint8Array; messageId: string; subject: string }
  | { id: number; from: string; template: number; recipient: Recipient; date: number }
) & { gated?: boolean };

export function attach(port: MessagePort, data: unknown): () => void {
  const { smtp, options } = data as { smtp: SmtpConfig; options: SmtpPoolOptions };
  const pool = createSmtpPool(smtp, options);

  // Outcomes of one event-loop turn go back together.
  let results: Array<[number, SendOutcome | null]> = [];
  const flush = () => {
    const batch = results;
    results = [];
    port.postMessage({ t: 'done', results: batch } satisfies FromWorker);
  };

  const done = (id: number, outcome: SendOutcome | null) => {
    if (results.length === 0) setImmediate(flush);
    results.push([id, outcome]);
  };

  const templates = new Map<number, WireTemplate>();
  /** Open gates of gated messages, by message id. */
  const gates = new Map<number, (go: boolean) => void>();
  function toOutgoing(m: WorkerMessage): OutgoingRaw | undefined {
    if ('raw' in m) return { from: m.from, to: m.to, raw: Buffer.from(m.raw.buffer, m.raw.byteOffset, m.raw.byteLength), messageId: m.messageId, subject: m.subject };
    const template = templates.get(m.template);
    if (!template) return undefined;
    const { raw, subject } = renderWire(template, m.recipient, m.date);
    return { from: m.from, to: m.recipient.email, raw, messageId: m.recipient.messageId, subject };
  }

  port.postMessage({ t: 'up' } satisfies FromWorker);

  port.on('message', (msg: ToWorker) => {
    if (msg.t === 'send') {
      for (const m of msg.batch) {
        let outgoing: OutgoingRaw;
        try {
          const built = toOutgoing(m);
          if (!built) {
            // Only after a worker restart: nothing went out, the engine sends it again later.
            done(m.id, { kind: 'retry', error: 'internal error: the SMTP worker did not have this post yet' });
            continue;
          }
          outgoing = built;
        } catch (err) {
          done(m.id, { kind: 'failed', error: `Could not build this message: ${(err as Error).message}`, suppress: false });
          continue;
        }
        let gate: Promise<boolean> | undefined;
        if (m.gated) gate = new Promise<boolean>((open) => gates.set(m.id, open));
        pool
          .submit(outgoing, gate)
          .finally(() => gates.delete(m.id))
          .catch((err: unknown): SendOutcome => ({ kind: 'retry', error: `internal error: ${(err as Error).message}` }))
          .then((outcome) => done(m.id, outcome));
      }
    } else if (msg.t === 'gates') {
      for (const id of msg.go) gates.get(id)?.(true);
      for (const id of msg.cancel) gates.get(id)?.(false);
    } else if (msg.t === 'template') {
      templates.set(msg.id, wireTemplate(msg.template));
      if (msg.drop !== undefined) templates.delete(msg.drop);
    } else if (msg.t === 'probe') {
      void pool.probe().then((result) => port.postMessage({ t: 'probed', id: msg.id, result } satisfies FromWorker));
    } else if (msg.t === 'close') {
      void pool.close().then(() => port.postMessage({ t: 'closed' } satisfies FromWorker));
    }
  });
  return () => void pool.close();
}
