import type { NewsletterRow } from '../db/tables/newsletters.js';
import { isValidEmail, parseMailbox } from '../lib/email.js';

/**
 * Who a newsletter's mail comes from. Every message a newsletter sends (the bulk send, the writer's test
 * send, confirmations and notices to readers) takes its From and Reply-To from here, so a test send
 * shows exactly what subscribers will see.
 */
export interface Sender {
  /** Display name, one line of plain text; may be empty. */
  name: string;
  address: string;
  /** A valid address, or undefined when the newsletter has none. */
  replyTo: string | undefined;
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g;

/** One line of text: control characters (CR and LF included) cannot reach a header. */
function oneLine(value: string): string {
  return value.replace(CONTROL, ' ').replace(/\s+/g, ' ').trim().slice(0, 200);
}

/**
 * The newsletter's own From address when it is a valid one, else MAIL_FROM's. The name is the
 * newsletter's From name; without one, MAIL_FROM's name when the address is MAIL_FROM's (that name
 * belongs to that address), else the newsletter's name.
 */
export function senderOf(newsletter: Pick<NewsletterRow, 'name' | 'from_name' | 'from_email' | 'reply_to'>, mailFrom: string): Sender {
  const fallback = parseMailbox(mailFrom);
  const own = newsletter.from_email.trim();
  const address = own && isValidEmail(own) ? own : fallback?.address;
  if (!address) throw new Error('No valid From address: set one on the newsletter or MAIL_FROM.');
  const name =
    oneLine(newsletter.from_name) || (address === fallback?.address ? oneLine(fallback.name ?? '') : '') || oneLine(newsletter.name);
  const replyTo = newsletter.reply_to?.trim();
  return { name, address, replyTo: replyTo && isValidEmail(replyTo) ? replyTo : undefined };
}

/** `"Name" <address>` (or the bare address) for a mail library that parses and encodes it itself. */
export function mailboxText(sender: Pick<Sender, 'name' | 'address'>): string {
  return sender.name ? `"${sender.name.replace(/["\\]/g, '\\$&')}" <${sender.address}>` : sender.address;
}
