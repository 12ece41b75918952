import { randomToken } from '../lib/tokens.js';

/**
 * Every feature that sends a single message (confirmations, test sends, password notices) goes
 * through this interface. Bulk sending has its own fast path in the sending engine.
 */
export interface OutgoingMail {
  from: string;
  to: string;
  replyTo?: string;
  subject: string;
  text: string;
  html?: string;
  /** Extra headers; values are plain text and are encoded by the mail library, never concatenated. */
  headers?: Record<string, string>;
  messageId?: string;
}

export interface SendResult {
  messageId: string;
  /** The relay's final answer (e.g. "250 2.0.0 Ok: queued as …"), or a note from the dev outbox. */
  response: string;
  /** False when the message was captured by the dev outbox instead of being handed to a relay. */
  delivered: boolean;
}

export interface Mailer {
  readonly kind: 'smtp' | 'dev-outbox' | 'capture';
  send(mail: OutgoingMail): Promise<SendResult>;
  /** Checks the relay: connects, authenticates, and returns a human-readable summary. */
  verify(): Promise<string>;
  close(): Promise<void>;
}

/** `<random@domain>`: unique per message and on our own sending domain, as mailbox providers expect. */
export function newMessageId(domain: string): string {
  return `<${randomToken(18)}@${domain}>`;
}

/** The nodemailer message for one OutgoingMail; nodemailer encodes every header value itself. */
export function nodemailerFields(mail: OutgoingMail, messageId: string) {
  return {
    from: mail.from,
    to: mail.to,
    replyTo: mail.replyTo,
    subject: mail.subject,
    text: mail.text,
    html: mail.html,
    headers: mail.headers,
    messageId,
  };
}

/** The domain part of an address or `Name <address>` mailbox. */
export function domainOf(mailbox: string): string {
  const match = /@([^>\s]+)>?\s*$/.exec(mailbox);
  return match?.[1]?.toLowerCase() ?? 'localhost.localdomain';
}
