import { POPULAR_DOMAINS } from '@zootools/email-spell-checker';

/**
 * Large mailbox providers. A typo correction only ever points at one of these (a guess at a small
 * domain is more often wrong than right), and their MX records are not looked up: they accept mail.
 */
export const KNOWN_PROVIDERS: ReadonlySet<string> = new Set([
  ...POPULAR_DOMAINS,
  'gmail.com', 'googlemail.com', 'yahoo.com', 'yahoo.co.uk', 'yahoo.fr', 'yahoo.de', 'ymail.com',
  'hotmail.com', 'hotmail.co.uk', 'hotmail.fr', 'hotmail.de', 'outlook.com', 'outlook.de', 'live.com', 'msn.com',
  'icloud.com', 'me.com', 'mac.com', 'aol.com', 'mail.com', 'gmx.com', 'gmx.de', 'gmx.net', 'web.de', 't-online.de',
  'posteo.de', 'mailbox.org', 'proton.me', 'protonmail.com', 'pm.me', 'fastmail.com', 'hey.com', 'zoho.com',
  'yandex.ru', 'yandex.com', 'mail.ru', 'orange.fr', 'free.fr', 'laposte.net', 'libero.it', 'qq.com', '163.com',
  'comcast.net', 'verizon.net', 'att.net', 'btinternet.com',
]);
