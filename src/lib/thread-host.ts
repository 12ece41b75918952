import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads';
import { besideCaller, startWorker } from './worker-thread.js';

/**
 * One worker thread that hosts the process's light background roles (the SQLite checkpointer and the SMTP
 * pool), each talking to its owner over its own MessagePort. A Node 24 worker thread costs 9 MB before it
 * runs any code of ours; sharing one keeps a big send a thread lighter. The roles share an event loop, so
 * only roles that hold it briefly belong here (a checkpoint round, a read, socket I/O); CPU-heavy work
 * (DKIM signing, a backup copy) keeps its own thread.
 *
 * A role is a module exporting `attach(port, data)`, which returns what ends it. It ends when its owner
 * calls `terminate()`: the port closes and the role frees what it holds. An uncaught error in any role ends the thread and every role in
 * it: each owner sees 'error' and 'exit', as with a worker of its own, and the next `startHosted` starts a
 * new thread.
 */
export interface HostedRole {
  postMessage(message: unknown, transfer?: readonly ArrayBuffer[]): void;
  on(event: 'message', listener: (message: never) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  on(event: 'exit', listener: (code: number) => void): this;
  /** Keeps the process up while the role is awaited (a port with a listener holds the event loop). */
  ref(): void;
  unref(): void;
  /** Ends the role (and the thread, when no other role is left in it). */
  terminate(): Promise<void>;
}

/** What the host thread is told: a role to start from `module`, talking over `port`. */
export interface AttachRole {
  t: 'attach';
  id: number;
  module: string;
  data: unknown;
  port: MessagePort;
}
/** The host's answer when a role's module cannot start (it failed to load, or `attach` threw). */
export interface RoleFailed {
  t: 'failed';
  id: number;
  error: string;
}

interface Host {
  worker: Worker;
  roles: Map<number, { fail(error: Error): void; exit(code: number): void }>;
  /** Set once the thread has ended: no role may join it. */
  dead: boolean;
}

let host: Host | undefined;
let nextRoleId = 1;

function startHost(): Host {
  const worker = startWorker(import.meta.url, 'thread-host-worker', null);
  const started: Host = { worker, roles: new Map(), dead: false };
  worker.on('message', (msg: RoleFailed) => {
    if (msg.t === 'failed') started.roles.get(msg.id)?.fail(new Error(msg.error));
  });
  const end = (error: Error | undefined, code: number) => {
    if (started.dead) return;
    started.dead = true;
    if (host === started) host = undefined;
    for (const role of started.roles.values()) {
      if (error) role.fail(error);
      role.exit(code);
    }
    started.roles.clear();
  };
  worker.on('error', (err) => end(err, 1));
  worker.on('exit', (code) => end(undefined, code));
  // The roles' ports hold the process up when they need to; the thread itself never does. Last: a
  // 'message' listener added after unref() would hold the process again.
  worker.unref();
  return started;
}

/**
 * Takes role `id` out of its thread; when it was the last one, the thread goes with it and the next role
 * starts a new one. Resolves once the thread has ended (at once when other roles are left in it).
 */
async function leave(from: Host, id: number): Promise<void> {
  if (!from.roles.delete(id) || from.dead || from.roles.size > 0) return;
  from.dead = true;
  if (host === from) host = undefined;
  await from.worker.terminate();
}

/** Whether a background thread is running (tests). */
export function hostRunning(): boolean {
  return host !== undefined && !host.dead;
}

/**
 * Starts the role `<basename>.js` next to the calling module (`.ts` under tsx) in the shared host thread,
 * with `data` (structured-cloned) as its start-up data.
 */
export function startHosted(callerUrl: string, basename: string, data: unknown): HostedRole {
  const current = host && !host.dead ? host : (host = startHost());
  const id = nextRoleId++;
  const { port1: mine, port2: theirs } = new MessageChannel();
  const listeners = { error: [] as Array<(e: Error) => void>, exit: [] as Array<(code: number) => void> };
  let ended = false;
  const finish = (code: number) => {
    if (ended) return;
    ended = true;
    mine.close();
    for (const listener of listeners.exit) listener(code);
  };
  current.roles.set(id, {
    fail: (error) => {
      for (const listener of listeners.error) listener(error);
      if (!current.roles.has(id)) return;
      void leave(current, id);
      finish(1);
    },
    exit: finish,
  });
  const module = besideCaller(callerUrl, basename).href;
  current.worker.postMessage({ t: 'attach', id, module, data, port: theirs } satisfies AttachRole, [theirs]);
  mine.unref();

  const role: HostedRole = {
    postMessage: (message, transfer) => mine.postMessage(message, transfer ?? []),
    on(event: 'message' | 'error' | 'exit', listener: (arg: never) => void) {
      if (event === 'message') {
        mine.on('message', listener as (message: unknown) => void);
        // Adding a listener refs a port: the role decides itself when it holds the process up.
        mine.unref();
      } else (listeners[event] as Array<(arg: never) => void>).push(listener);
      return role;
    },
    ref: () => {
      if (!ended) mine.ref();
    },
    unref: () => mine.unref(),
    async terminate() {
      if (ended) return;
      // Closing the port ends the role in the thread (the host hears the port close).
      await leave(current, id);
      finish(1);
    },
  };
  return role;
}
