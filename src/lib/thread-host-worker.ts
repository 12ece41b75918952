import { parentPort, type MessagePort } from 'node:worker_threads';
import type { AttachRole, RoleFailed } from './thread-host.js';

/**
 * Worker-thread side of thread-host.ts: starts each role it is sent from the role's own module, and ends
 * it when its port closes.
 */

/** What a role module exports: starts the role on `port`; what it returns ends it. */
export type RoleAttach = (port: MessagePort, data: unknown) => () => void;

const host = parentPort!;

host.on('message', (msg: AttachRole) => {
  if (msg.t !== 'attach') return;
  const { id, port } = msg;
  // The owner may end the role before its module has loaded.
  let closed = false;
  port.once('close', () => (closed = true));
  const failed = (err: unknown) => {
    port.close();
    host.postMessage({ t: 'failed', id, error: err instanceof Error ? err.message : String(err) } satisfies RoleFailed);
  };
  import(msg.module).then((module: { attach: RoleAttach }) => {
    let end: () => void;
    try {
      end = module.attach(port, msg.data);
    } catch (err) {
      return failed(err);
    }
    if (closed) end();
    else port.once('close', end);
  }, failed);
});
