import nodemailer from 'nodemailer';
import type { Clock } from '../lib/clock.js';
import type { DbOrTx } from '../db/database.js';
import type { DevOutboxRow } from '../db/tables/dev-outbox.js';
import { clearDevMessages, findDevMessage, insertDevMessage, listDevMessages } from './dev-outbox-repository.js';
import { domainOf, newMessageId, nodemailerFields, type Mailer, type OutgoingMail, type SendResult } from './mailer.js';
import type { BulkTransport } from './transport.js';

/**
 * Without a relay, mail is kept in the database exactly as it would have been sent, where the owner can
 * read it in the admin: a new user can try every flow before setting up SMTP. One DevOutbox is built at
 * start-up; the single-mail path (devOutboxMailer) and the bulk path (devOutboxTransport) both store
 * through it, and the admin's Outbox pages read it.
 */
export interface DevOutbox {
  /** Keeps one message; `raw` is the complete message, the bytes a relay would have been handed. */
  store(message: { messageId: string; from: string; to: string; subject: string; raw: Buffer }): Promise<void>;
  /** Newest first; `beforeId` pages to older messages. */
  list(limit: number, beforeId?: number): Promise<DevOutboxRow[]>;
  find(id: number): Promise<DevOutboxRow | undefined>;
  clear(): Promise<void>;
}

const STORED = 'Stored in the dev outbox (no SMTP relay is configured).';

export function createDevOutbox(db: DbOrTx, clock: Clock): DevOutbox {
  return {
    async store(m) {
      await insertDevMessage(db, {
        message_id: m.messageId,
        from_address: m.from,
        to_address: m.to,
        subject: m.subject,
        raw: m.raw.toString('utf8'),
        created_at: clock.now(),
      });
    },
    list: (limit, beforeId) => listDevMessages(db, limit, beforeId),
    find: (id) => findDevMessage(db, id),
    clear: () => clearDevMessages(db),
  };
}

/** Single messages (confirmations, test sends): composed by nodemailer as the SMTP mailer would, then kept. */
export function devOutboxMailer(outbox: DevOutbox, clock: Clock): Mailer {
  const composer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
  return {
    kind: 'dev-outbox',
    async send(mail: OutgoingMail): Promise<SendResult> {
      const messageId = mail.messageId ?? newMessageId(domainOf(mail.from));
      const info = await composer.sendMail({ ...nodemailerFields(mail, messageId), date: new Date(clock.now()) });
      await outbox.store({ messageId, from: mail.from, to: mail.to, subject: mail.subject, raw: info.message as Buffer });
      return { messageId, response: STORED, delivered: false };
    },
    async verify(): Promise<string> {
      return 'No SMTP relay is configured: mail is kept in the dev outbox.';
    },
    async close(): Promise<void> {},
  };
}

/** The bulk send's transport: each rendered message is kept byte for byte. */
export function devOutboxTransport(outbox: DevOutbox, concurrency = 4): BulkTransport {
  return {
    kind: 'dev-outbox',
    concurrency,
    async send(m) {
      await outbox.store({ messageId: m.messageId, from: m.from, to: m.to, subject: m.subject, raw: m.raw });
      return { kind: 'sent', response: STORED };
    },
    async probe() {
      return { ok: true };
    },
    async close() {},
  };
}
