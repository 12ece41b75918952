import type { Config } from '../../config.js';
import type { DbOrTx } from '../../db/database.js';
import { findNewsletterById } from '../newsletters/repository.js';
import { enqueueMail } from '../../sending/mail-outbox.js';
import { welcomeMail } from './mail.js';
import * as repo from './repository.js';

/** Rows claimed and queued per statement: well under either dialect's limit on bound parameters. */
const CHUNK = 500;

/**
 * The one way a welcome is sent: every place where a subscription becomes active (a confirmation, a
 * sign-up without double opt-in, the writer adding an active subscriber, the API, an import with "send
 * welcome" ticked) calls `queue` inside the transaction that activated it. The welcome_sent primary key
 * makes it once per subscriber and newsletter, whatever happens later (re-confirm, re-import, resubscribe);
 * the mail goes through the outbox, which never resends a message whose fate a crash left unknown.
 */
export interface WelcomeQueue {
  /** Queues the newsletter's welcome (when it is on) for those of these subscribers who never had it; returns how many. */
  queue(trx: DbOrTx, newsletterId: number, subscriberIds: number[], at: number): Promise<number>;
}

export function createWelcomeQueue(config: Pick<Config, 'baseUrl' | 'mailFrom'>): WelcomeQueue {
  return {
    async queue(trx, newsletterId, subscriberIds, at) {
      if (subscriberIds.length === 0) return 0;
      const welcome = await repo.findWelcomeMail(trx, newsletterId);
      if (!welcome || welcome.enabled !== 1) return 0;
      const newsletter = await findNewsletterById(trx, newsletterId);
      if (!newsletter) return 0;
      let queued = 0;
      for (let i = 0; i < subscriberIds.length; i += CHUNK) {
        const claimed = await repo.claimWelcomes(trx, newsletterId, subscriberIds.slice(i, i + CHUNK), at);
        if (claimed.length === 0) continue;
        for (const to of await repo.welcomeRecipients(trx, claimed)) {
          const mail = await welcomeMail(newsletter, welcome, to, config);
          const mailId = await enqueueMail(trx, { kind: 'welcome', mail, now: at, subscriberId: to.id, newsletterId });
          await repo.setWelcomeMailId(trx, newsletterId, to.id, mailId);
          queued += 1;
        }
      }
      return queued;
    },
  };
}
