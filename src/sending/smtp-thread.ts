import type { Worker } from 'node:worker_threads';
import type { SmtpConfig } from '../config.js';
import type { SmtpPoolOptions } from './smtp-pool.js';
import type { MessageTemplate } from './message.js';
import type { FromWorker, ToWorker, WorkerMessage } from './smtp-thread-worker.js';
import type { BulkTransport, OutgoingRaw, OutgoingTemplated, SendOutcome } from './transport.js';
import { startWorker } from '../lib/worker-thread.js';

/** Post templates a worker keeps at once (posts sending at the same time); the oldest goes first. */
const TEMPLATES_KEPT = 8;

/**
 * The SMTP pool (smtp-pool.ts) run in a worker thread. The main thread keeps the database work
 * (claims, write-ahead markers, group commits); the worker keeps the connections and renders the
 * messages from their post's template (sendTemplated), or takes signed bytes (DKIM) as they are.
 * Together they use two cores, and a synchronous SQLite commit never stalls an SMTP conversation.
 * If the worker dies with messages in flight, those are reported `unknown`: they may have gone out.
 */
export function createThreadedSmtpTransport(smtp: SmtpConfig, options: SmtpPoolOptions): BulkTransport {
  const workerData = { smtp: { ...smtp }, options };
  const pending = new Map<number, (o: SendOutcome) => void>();
  const probes = new Map<number, (r: { ok: true } | { ok: false; error: string }) => void>();
  let nextId = 1;
  let outbox: WorkerMessage[] = [];
  /** Templates the current worker has, by object, with the id it knows them by (oldest first). */
  let templates = new Map<MessageTemplate, number>();
  let closed = false;
  let closing: Promise<void> | undefined;
  let onClosed: (() => void) | undefined;
  let worker: Worker | undefined;
  let up: Promise<void> | undefined;
  let markUp: (() => void) | undefined;

  const busy = () => pending.size + probes.size > 0;
  const spawn = (): Worker => {
    const w = startWorker(import.meta.url, 'smtp-thread-worker', workerData);
    templates = new Map();
    up = new Promise<void>((resolve) => (markUp = resolve));
    w.on('message', (msg: FromWorker) => {
      if (msg.t === 'up') markUp?.();
      else if (msg.t === 'done') {
        for (const [id, outcome] of msg.results) {
          const resolve = pending.get(id);
          pending.delete(id);
          resolve?.(outcome);
        }
      } else if (msg.t === 'probed') {
        probes.get(msg.id)?.(msg.result);
        probes.delete(msg.id);
      } else if (msg.t === 'closed') onClosed?.();
      if (!busy()) w.unref();
    });
    const died = (reason: string) => {
      if (worker !== w) return;
      worker = undefined;
      for (const resolve of pending.values()) resolve({ kind: 'unknown', error: `the SMTP worker stopped (${reason}) while sending` });
      pending.clear();
      for (const resolve of probes.values()) resolve({ ok: false, error: `the SMTP worker stopped (${reason})` });
      probes.clear();
      markUp?.();
      onClosed?.();
    };
    w.on('error', (err) => died(err.message));
    w.on('exit', (code) => died(`exit code ${code}`));
    w.unref();
    return w;
  };
  const current = () => (worker ??= spawn());

  // Sends of one tick go to the worker in one message. Message bytes that own their whole memory are
  // moved, not copied: the worker frees them as soon as they are sent, instead of the main thread
  // holding them until its next full garbage collection (tens of MB at thousands of messages/s).
  const flush = () => {
    const batch = outbox;
    if (batch.length === 0) return;
    outbox = [];
    const moved: ArrayBuffer[] = [];
    for (const m of batch) {
      if (!('raw' in m)) continue;
      const { buffer, byteOffset, byteLength } = m.raw;
      if (byteOffset === 0 && byteLength === buffer.byteLength && buffer instanceof ArrayBuffer) moved.push(buffer);
    }
    const w = current();
    w.ref();
    w.postMessage({ t: 'send', batch } satisfies ToWorker, moved);
  };

  const poolClosed = (): Promise<SendOutcome> => Promise.resolve({ kind: 'relay', error: 'the SMTP pool is closed' });
  const enqueue = (message: (id: number) => WorkerMessage): Promise<SendOutcome> => {
    if (closed) return poolClosed();
    return new Promise((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      if (outbox.length === 0) queueMicrotask(flush);
      outbox.push(message(id));
    });
  };

  /** The id the current worker knows `template` by, sending it first if it does not have it. */
  const templateId = (template: MessageTemplate): number => {
    const w = current();
    let id = templates.get(template);
    if (id !== undefined) return id;
    id = nextId++;
    let drop: number | undefined;
    if (templates.size >= TEMPLATES_KEPT) {
      const [oldest, oldestId] = templates.entries().next().value!;
      templates.delete(oldest);
      drop = oldestId;
    }
    templates.set(template, id);
    // Sent before any message that uses it: messages on one port arrive in order.
    if (outbox.length > 0) flush();
    w.postMessage({ t: 'template', id, template, ...(drop !== undefined ? { drop } : {}) } satisfies ToWorker);
    return id;
  };

  return {
    kind: 'smtp',
    concurrency: Math.max(1, options.size),
    send(m: OutgoingRaw): Promise<SendOutcome> {
      return enqueue((id) => ({ id, from: m.from, to: m.to, raw: m.raw, messageId: m.messageId, subject: m.subject }));
    },
    sendTemplated(m: OutgoingTemplated): Promise<SendOutcome> {
      if (closed) return poolClosed();
      const template = templateId(m.template);
      return enqueue((id) => ({ id, from: m.from, template, recipient: m.recipient, date: m.date }));
    },
    async ready() {
      if (closed) return;
      current();
      const w = worker;
      w?.ref();
      await up;
      if (w && !busy()) w.unref();
    },
    probe() {
      if (closed) return Promise.resolve({ ok: false, error: 'the SMTP pool is closed' });
      return new Promise((resolve) => {
        const id = nextId++;
        probes.set(id, resolve);
        const w = current();
        w.ref();
        w.postMessage({ t: 'probe', id } satisfies ToWorker);
      });
    },
    close() {
      closed = true;
      closing ??= (async () => {
        const w = worker;
        if (!w) return;
        await new Promise<void>((resolve) => {
          onClosed = resolve;
          w.ref();
          w.postMessage({ t: 'close' } satisfies ToWorker);
        });
        worker = undefined;
        await w.terminate();
      })();
      return closing;
    },
  };
}
