import os from 'node:os';
import type { Worker } from 'node:worker_threads';
import type { DkimConfig } from '../config.js';
import { dkimSignatureLine, prepareKey } from './dkim.js';
import type { SignReply, SignRequest } from './dkim-worker.js';
import { DKIM_SIGNED_HEADERS } from './smtp-mailer.js';
import { startWorker } from '../lib/worker-thread.js';

/** Signs rendered messages; returns one `DKIM-Signature: …\r\n` line per message, in order. */
export interface DkimSigner {
  sign(items: Array<{ headers: string; body: string }>, timeSeconds: number): Promise<string[]>;
  close(): Promise<void>;
}

interface Pending {
  resolve(lines: string[]): void;
  reject(err: Error): void;
}

/**
 * A small pool of worker threads. A batch is split evenly over the workers so a claim of twenty
 * messages is signed in parallel; each worker answers its slices in order.
 */
export function createDkimSigner(dkim: DkimConfig, options: { workers?: number } = {}): DkimSigner {
  // One per core, at least two: an RSA-2048 signature costs about 1 ms, so one thread caps a send near
  // 1,000 messages/s however idle the other cores are (the SMTP worker and the main thread use little).
  const count = options.workers ?? Math.max(2, Math.min(4, os.availableParallelism()));
  if (count === 0) return inlineSigner(dkim);
  const workerData = { key: { domain: dkim.domain, selector: dkim.selector, privateKey: dkim.privateKey }, signedHeaders: DKIM_SIGNED_HEADERS };
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let closed = false;
  // A worker that cannot even start would otherwise be respawned forever.
  let failuresInARow = 0;
  let broken: Error | undefined;

  const spawn = (): { worker: Worker; ids: Set<number> } => {
    const slot = { worker: startWorker(import.meta.url, 'dkim-worker', workerData), ids: new Set<number>() };
    slot.worker.on('message', (reply: SignReply) => {
      failuresInARow = 0;
      const p = pending.get(reply.id);
      pending.delete(reply.id);
      slot.ids.delete(reply.id);
      if (slot.ids.size === 0) slot.worker.unref();
      if (!p) return;
      if ('error' in reply) p.reject(new Error(`DKIM signing failed: ${reply.error}`));
      else p.resolve(reply.lines);
    });
    const fail = (err: Error) => {
      for (const id of slot.ids) {
        pending.get(id)?.reject(err);
        pending.delete(id);
      }
      slot.ids.clear();
      const at = slots.indexOf(slot);
      if (closed || at < 0) return;
      if (++failuresInARow > 3) {
        broken = err;
        return;
      }
      slots[at] = spawn();
    };
    slot.worker.on('error', fail);
    slot.worker.on('exit', (code) => {
      if (!closed) fail(new Error(`DKIM worker exited with code ${code}`));
    });
    // Idle workers must not keep the process alive; busy ones must (see send()).
    slot.worker.unref();
    return slot;
  };
  const slots = Array.from({ length: count }, spawn);
  let turn = 0;

  const send = (items: SignRequest['items'], time: number): Promise<string[]> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const slot = slots[turn++ % slots.length]!;
      pending.set(id, { resolve, reject });
      slot.ids.add(id);
      slot.worker.ref();
      slot.worker.postMessage({ id, time, items } satisfies SignRequest);
    });

  return {
    async sign(items, timeSeconds) {
      if (closed) throw new Error('DKIM signer is closed');
      if (broken) throw broken;
      if (items.length === 0) return [];
      const per = Math.ceil(items.length / slots.length);
      const parts: Array<Promise<string[]>> = [];
      for (let i = 0; i < items.length; i += per) parts.push(send(items.slice(i, i + per), timeSeconds));
      return (await Promise.all(parts)).flat();
    },
    async close() {
      closed = true;
      await Promise.all(slots.map((s) => s.worker.terminate()));
      for (const p of pending.values()) p.reject(new Error('DKIM signer closed'));
      pending.clear();
    },
  };
}

/** Signs on the calling thread: for tools and tests that want no workers. */
export function inlineSigner(dkim: DkimConfig): DkimSigner {
  const key = prepareKey(dkim, DKIM_SIGNED_HEADERS);
  return {
    async sign(items, timeSeconds) {
      return items.map((m) => dkimSignatureLine(key, m.headers, m.body, timeSeconds));
    },
    async close() {},
  };
}
