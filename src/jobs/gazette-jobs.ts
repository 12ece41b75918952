import type { SendingEngine } from '../sending/engine.js';
import type { MailOutbox } from '../sending/mail-outbox.js';
import { createJobRegistry, type JobRegistry, type JobRegistryDeps } from './registry.js';
import { sendingJobs } from './sending-jobs.js';

export interface GazetteJobsDeps extends JobRegistryDeps {
  sending: SendingEngine;
  mailOutbox: MailOutbox;
}

/** The registry with every recurring job of the server; server.ts and the test app both build it here. */
export function createGazetteJobs(deps: GazetteJobsDeps): JobRegistry {
  const registry = createJobRegistry(deps);
  for (const job of sendingJobs(deps)) registry.register(job);
  return registry;
}
