import nodemailer from 'nodemailer';
import type { Clock } from '../lib/clock.js';
import type { DbOrTx } from '../db/database.js';
import type { DevOutboxRow } from '../db/tables/dev-outbox.js';
import { domainOf, newMessageId, nodemailerFields, type Mailer, type OutgoingMail, type SendResult } from './mailer.js';
import type { BulkTransport } from './transport.js';

/**
 * Without a relay, mail is composed exactly as it would be sent and kept in the database, where the
 * owner can read it in the admin. A new user can try every flow before setting up SMTP.
 */
export function createDevOutboxMailer(db: DbOrTx, clock: Clock): Mailer {
  const composer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
  return {
    kind: 'dev-outbox',
    async send(mail: OutgoingMail): Promise<SendResult> {
      const messageId = mail.messageId ?? newMessageId(domainOf(mail.from));
      const info = await composer.sendMail({ ...nodemailerFields(mail, messageId), date: new Date(clock.now()) });
      await insertDevMessage(db, {
        messageId,
        from: mail.from,
        to: mail.to,
        subject: mail.subject,
        raw: (info.message as Buffer).toString('utf8'),
        at: clock.now(),
      });
      return { messageId, response: 'Stored in the dev outbox (no SMTP relay is configured).', delivered: false };
    },
    async verify(): Promise<string> {
      return 'No SMTP relay is configured: mail is kept in the dev outbox.';
    },
    async close(): Promise<void> {},
  };
}

/** No relay configured: bulk mail is kept in the dev outbox, byte for byte what would have been sent. */
export function createDevOutboxTransport(db: DbOrTx, clock: Clock, concurrency = 4): BulkTransport {
  return {
    kind: 'dev-outbox',
    concurrency,
    async send(m) {
      await insertDevMessage(db, { messageId: m.messageId, from: m.from, to: m.to, subject: m.subject, raw: m.raw.toString('utf8'), at: clock.now() });
      return { kind: 'sent', response: 'Stored in the dev outbox (no SMTP relay is configured).' };
    },
    async probe() {
      return { ok: true };
    },
    async close() {},
  };
}

export async function insertDevMessage(
  db: DbOrTx,
  m: { messageId: string; from: string; to: string; subject: string; raw: string; at: number },
): Promise<void> {
  await db
    .insertInto('dev_outbox')
    .values({
      message_id: m.messageId,
      from_address: m.from,
      to_address: m.to,
      subject: m.subject,
      raw: m.raw,
      created_at: m.at,
    })
    .execute();
}

export async function listDevMessages(db: DbOrTx, limit: number, beforeId?: number): Promise<DevOutboxRow[]> {
  let q = db.selectFrom('dev_outbox').selectAll().orderBy('id', 'desc').limit(limit);
  if (beforeId !== undefined) q = q.where('id', '<', beforeId);
  return q.execute();
}

export async function findDevMessage(db: DbOrTx, id: number): Promise<DevOutboxRow | undefined> {
  return db.selectFrom('dev_outbox').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function clearDevMessages(db: DbOrTx): Promise<void> {
  await db.deleteFrom('dev_outbox').execute();
}
