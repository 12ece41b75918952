import type { SendingEngine } from '../sending/engine.js';
import type { MailOutbox } from '../sending/mail-outbox.js';
import type { JobDefinition } from './registry.js';

/**
 * The recurring work of sending. The send loops themselves stay event-driven: a post the writer starts
 * goes out at once, and mail queued by a request is sent right after its commit. These jobs do what no
 * event announces: time passing.
 */
export function sendingJobs(deps: { sending: SendingEngine; mailOutbox: MailOutbox }): JobDefinition[] {
  return [
    {
      name: 'sending-housekeeping',
      // Every 5 s: a relay pause is probed within 5 s of its backoff's end, and scheduled posts start on time.
      schedule: '*/5 * * * * *',
      description:
        'Starts scheduled posts that are due (or holds those missed by too long), resumes sends paused by relay trouble once the relay answers, takes back the recipients of a sending process that stopped, and finishes interrupted audience snapshots.',
      run: async () => ((await deps.sending.housekeepOnce()) === 0 ? 'idle' : undefined),
    },
    {
      name: 'mail-outbox',
      // Retries wait 30 s at least, so 15 s keeps them close to their time.
      schedule: '*/15 * * * * *',
      description:
        'Sends confirmations, notices and password resets whose retry is due, and marks as unknown those whose sending process stopped mid-send.',
      run: async () => ((await deps.mailOutbox.runOnce()) === 0 ? 'idle' : undefined),
    },
  ];
}
