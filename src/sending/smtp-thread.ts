import type { SmtpConfig } from '../config.js';
import type { SmtpPoolOptions } from './smtp-pool.js';
import type { MessageTemplate } from './message.js';
import type { FromWorker, ToWorker, WorkerMessage } from './smtp-thread-worker.js';
import type { BulkTransport, OutgoingRaw, OutgoingTemplated, Prepared, SendOutcome } from './transport.js';
import { startHosted, type HostedRole } from '../lib/thread-host.js';

/** Post templates a worker keeps at once (posts sending at the same time); the oldest goes first. */
const TEMPLATES_KEPT = 8;

/**
 * The SMTP pool (smtp-pool.ts) run in the background thread (lib/thread-host.ts, shared with the SQLite
 * checkpointer). The main thread keeps the database work (claims, write-ahead markers, group commits);
 * the worker keeps the connections and renders the messages from their post's template (sendTemplated),
 * or takes signed bytes (DKIM) as they are.
 * Together they use two cores, and a synchronous SQLite commit never stalls an SMTP conversation.
 * If the worker dies with messages in flight, those are reported `unknown`: they may have gone out.
 */
/** The current worker and what the main thread waits for from it. */
interface WorkerLink {
  readonly workerData: { smtp: SmtpConfig; options: SmtpPoolOptions };
  readonly pending: Map<number, (o: SendOutcome | null) => void>;
  /** Prepared messages not released yet: if the worker dies, they certainly did not go out. */
  readonly unreleased: Set<number>;
  readonly probes: Map<number, (r: { ok: true } | { ok: false; error: string }) => void>;
  worker: HostedRole | undefined;
  /** Templates the current worker has, by object, with the id it knows them by (oldest first). */
  templates: Map<MessageTemplate, number>;
  up: Promise<void> | undefined;
  markUp: (() => void) | undefined;
  onClosed: (() => void) | undefined;
}

const isBusy = (link: WorkerLink) => link.pending.size + link.probes.size > 0;

function spawnWorker(link: WorkerLink): HostedRole {
  const { pending, probes } = link;
  const w = startHosted(import.meta.url, 'smtp-thread-worker', link.workerData);
  link.templates = new Map();
  link.up = new Promise<void>((resolve) => (link.markUp = resolve));
  w.on('message', (msg: FromWorker) => {
    if (msg.t === 'up') link.markUp?.();
    else if (msg.t === 'done') {
      for (const [id, outcome] of msg.results) {
        const resolve = pending.get(id);
        pending.delete(id);
        resolve?.(outcome);
      }
    } else if (msg.t === 'probed') {
      probes.get(msg.id)?.(msg.result);
      probes.delete(msg.id);
    } else if (msg.t === 'closed') link.onClosed?.();
    if (!isBusy(link)) w.unref();
  });
  w.on('error', (err) => workerDied(link, w, err.message));
  w.on('exit', (code) => workerDied(link, w, `exit code ${code}`));
  w.unref();
  return w;
}

function workerDied(link: WorkerLink, w: HostedRole, reason: string): void {
  if (link.worker !== w) return;
  link.worker = undefined;
  const { pending, unreleased, probes } = link;
  for (const [id, resolve] of pending) {
    resolve(unreleased.has(id) ? { kind: 'retry', error: `the SMTP worker stopped (${reason}) before sending` } : { kind: 'unknown', error: `the SMTP worker stopped (${reason}) while sending` });
  }
  pending.clear();
  unreleased.clear();
  for (const resolve of probes.values()) resolve({ ok: false, error: `the SMTP worker stopped (${reason})` });
  probes.clear();
  link.markUp?.();
  link.onClosed?.();
}

// Message bytes that own their whole memory are moved, not copied: the worker frees them as soon as
// they are sent, instead of the main thread holding them until its next full garbage collection (tens
// of MB at thousands of messages/s).
function postBatch(w: HostedRole, batch: WorkerMessage[]): void {
  const moved: ArrayBuffer[] = [];
  for (const m of batch) {
    if (!('raw' in m)) continue;
    const { buffer, byteOffset, byteLength } = m.raw;
    if (byteOffset === 0 && byteLength === buffer.byteLength && buffer instanceof ArrayBuffer) moved.push(buffer);
  }
  w.postMessage({ t: 'send', batch } satisfies ToWorker, moved);
}

/** Lets the worker finish what it has, then ends it. */
async function closeWorker(link: WorkerLink): Promise<void> {
  const w = link.worker;
  if (!w) return;
  await new Promise<void>((resolve) => {
    link.onClosed = resolve;
    w.ref();
    w.postMessage({ t: 'close' } satisfies ToWorker);
  });
  link.worker = undefined;
  await w.terminate();
}

export function createThreadedSmtpTransport(smtp: SmtpConfig, options: SmtpPoolOptions): BulkTransport {
  const link: WorkerLink = {
    workerData: { smtp: { ...smtp }, options },
    pending: new Map(),
    unreleased: new Set(),
    probes: new Map(),
    worker: undefined,
    templates: new Map(),
    up: undefined,
    markUp: undefined,
    onClosed: undefined,
  };
  const { pending, unreleased, probes } = link;
  let gates: { go: number[]; cancel: number[] } = { go: [], cancel: [] };
  let nextId = 1;
  let outbox: WorkerMessage[] = [];
  let closed = false;
  let closing: Promise<void> | undefined;

  const current = () => (link.worker ??= spawnWorker(link));

  // Sends of one tick go to the worker in one message.
  const flush = () => {
    const batch = outbox;
    const open = gates;
    if (batch.length === 0 && open.go.length + open.cancel.length === 0) return;
    outbox = [];
    gates = { go: [], cancel: [] };
    const w = current();
    w.ref();
    // Messages before the gates that may name them: one port delivers in order.
    if (batch.length > 0) postBatch(w, batch);
    if (open.go.length + open.cancel.length > 0) w.postMessage({ t: 'gates', ...open } satisfies ToWorker);
  };
  const later = () => {
    if (outbox.length === 0 && gates.go.length + gates.cancel.length === 0) queueMicrotask(flush);
  };

  const poolClosed = (): Promise<SendOutcome> => Promise.resolve({ kind: 'relay', error: 'the SMTP pool is closed' });
  const enqueue = (message: (id: number) => WorkerMessage, onId?: (id: number) => void): Promise<SendOutcome | null> => {
    if (closed) return poolClosed();
    return new Promise((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      // Built first: building may flush the outbox (a template goes to the worker before its messages).
      const built = message(id);
      later();
      outbox.push(built);
      onId?.(id);
    });
  };
  const toWorker = (m: OutgoingRaw | OutgoingTemplated) =>
    'raw' in m
      ? (id: number): WorkerMessage => ({ id, from: m.from, to: m.to, raw: m.raw, messageId: m.messageId, subject: m.subject })
      : (id: number): WorkerMessage => ({ id, from: m.from, template: templateId(m.template), recipient: m.recipient, date: m.date });

  /** The id the current worker knows `template` by, sending it first if it does not have it. */
  const templateId = (template: MessageTemplate): number => {
    const w = current();
    const { templates } = link;
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
      return enqueue(toWorker(m)) as Promise<SendOutcome>;
    },
    sendTemplated(m: OutgoingTemplated): Promise<SendOutcome> {
      return enqueue(toWorker(m)) as Promise<SendOutcome>;
    },
    prepare(m: OutgoingRaw | OutgoingTemplated): Prepared {
      // Unset when the pool is closed: the outcome then says so, and the gate has nothing to open.
      let id: number | undefined;
      const build = toWorker(m);
      const outcome = enqueue(
        (n) => ({ ...build(n), gated: true }),
        (n) => {
          id = n;
          unreleased.add(n);
        },
      );
      // Once per message: a second call finds it no longer unreleased.
      const gate = (go: boolean) => {
        if (id === undefined || !unreleased.delete(id) || !pending.has(id)) return;
        later();
        (go ? gates.go : gates.cancel).push(id);
      };
      return {
        release() {
          gate(true);
          return outcome.then((o) => o ?? { kind: 'retry', error: 'internal error: a released message was reported cancelled' });
        },
        cancel() {
          gate(false);
        },
      };
    },
    async ready() {
      if (closed) return;
      current();
      const w = link.worker;
      w?.ref();
      await link.up;
      if (w && !isBusy(link)) w.unref();
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
      closing ??= closeWorker(link);
      return closing;
    },
  };
}
