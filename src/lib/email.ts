/**
 * Address handling shared by forms, config and mail. Deliberately stricter than RFC 5322: what we accept
 * must also survive every relay and mailbox provider, and must never carry header syntax.
 */

const LOCAL = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/i;
const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;

/** Case-folds and trims an address; the stored form used for uniqueness. */
export function normalizeEmail(input: string): string {
  return input.trim().toLowerCase();
}

export function isValidEmail(input: string): boolean {
  if (input.length > 254) return false;
  const at = input.lastIndexOf('@');
  if (at < 1) return false;
  const local = input.slice(0, at);
  const domain = input.slice(at + 1);
  return local.length <= 64 && LOCAL.test(local) && DOMAIN.test(domain);
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
