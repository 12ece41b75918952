import { domainToASCII } from 'node:url';

/**
 * Address handling shared by forms, config and mail. Deliberately stricter than RFC 5322: what we accept
 * must also survive every relay and mailbox provider, and must never carry header syntax.
 *
 * Internationalised domains (`müller.de`, `пример.рф`) are accepted and stored in their ASCII (punycode)
 * form, `xn--mller-kva.de`: that is what DNS and every relay without SMTPUTF8 understand, and one stored
 * form keeps lookups of subscribers and suppressions consistent whichever way an address was typed.
 * Local parts stay ASCII: mailboxes with non-ASCII names need SMTPUTF8 end to end, which we do not assume.
 */

const LOCAL = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/i;
/** An ASCII host name whose last label is letters or an IDN label (`xn--p1ai` is `рф`). */
const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$/i;
const ASCII = /^[\x20-\x7e]*$/;

/**
 * The ASCII form of a domain, or '' when it is no valid domain. Plain ASCII names are taken as they are;
 * Unicode names and punycode labels go through the WHATWG/UTS #46 mapping, which also rejects bad punycode.
 */
export function asciiDomain(domain: string): string {
  if (ASCII.test(domain) && !/(^|\.)xn--/i.test(domain)) return domain.toLowerCase();
  if (/[\s/\\?#@:%[\]]/.test(domain)) return '';
  return domainToASCII(domain);
}

/** Case-folds and trims an address and puts its domain in ASCII form; the stored form used for uniqueness. */
export function normalizeEmail(input: string): string {
  const lowered = input.trim().toLowerCase();
  const at = lowered.lastIndexOf('@');
  if (at < 1) return lowered;
  const ascii = asciiDomain(lowered.slice(at + 1));
  return ascii ? `${lowered.slice(0, at + 1)}${ascii}` : lowered;
}

export function isValidEmail(input: string): boolean {
  if (input.length > 254) return false;
  const at = input.lastIndexOf('@');
  if (at < 1) return false;
  const local = input.slice(0, at);
  const domain = asciiDomain(input.slice(at + 1));
  return local.length <= 64 && LOCAL.test(local) && domain.length > 0 && DOMAIN.test(domain) && `${local}@${domain}`.length <= 254;
}

/** The domain of an address (after the last @), as stored. */
export function domainOfEmail(email: string): string {
  return email.slice(email.lastIndexOf('@') + 1);
}

export interface Mailbox {
  name: string | undefined;
  address: string;
}

/** Parses `Name <a@b.c>` or `a@b.c`; returns undefined when it is not one valid mailbox. */
export function parseMailbox(input: string): Mailbox | undefined {
  const trimmed = input.trim();
  if (/[\r\n]/.test(trimmed)) return undefined;
  const angle = /^(.*?)\s*<([^<>]+)>$/.exec(trimmed);
  const name = angle ? angle[1]!.trim().replace(/^"(.*)"$/, '$1').trim() : undefined;
  const address = (angle ? angle[2]! : trimmed).trim();
  if (!isValidEmail(address)) return undefined;
  return { name: name || undefined, address };
}
