import { createPrivateKey } from 'node:crypto';
import { boolean, integer, optionalText, positiveNumber, type Add, type EnvOf } from './values.js';

/** The relay Gazette sends through, how fast, as whom, and the DKIM key it signs with. */

export interface SmtpConfig {
  host: string;
  port: number;
  /** Implicit TLS (smtps, usually port 465). Otherwise STARTTLS is used when the relay offers it. */
  secure: boolean;
  user: string | undefined;
  password: string | undefined;
}

export interface DkimConfig {
  domain: string;
  selector: string;
  privateKey: string;
}

export const mailEnv = {
  SMTP_URL: optionalText,
  SMTP_HOST: optionalText,
  SMTP_PORT: integer('SMTP_PORT', 1, 65535),
  SMTP_USER: optionalText,
  SMTP_PASSWORD: optionalText,
  SMTP_SECURE: boolean,
  SMTP_POOL_SIZE: integer('SMTP_POOL_SIZE', 1, 100),
  SEND_RATE: positiveNumber,
  MAIL_FROM: optionalText,
  DKIM_DOMAIN: optionalText,
  DKIM_SELECTOR: optionalText,
  DKIM_PRIVATE_KEY: optionalText,
  LIST_UNSUBSCRIBE_MAILTO: optionalText,
};

type MailEnv = EnvOf<typeof mailEnv>;

export function parseSmtp(e: MailEnv, add: Add): SmtpConfig | undefined {
  if (e.SMTP_URL !== undefined && e.SMTP_HOST !== undefined) {
    add('SMTP_URL', 'set either SMTP_URL or SMTP_HOST (with SMTP_PORT, SMTP_USER, SMTP_PASSWORD), not both');
    return undefined;
  }
  if (e.SMTP_URL !== undefined) {
    let url: URL;
    try {
      url = new URL(e.SMTP_URL);
    } catch {
      add('SMTP_URL', 'is not a valid URL (expected smtp://user:password@host:587 or smtps://…:465)');
      return undefined;
    }
    if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
      add('SMTP_URL', `must start with smtp:// or smtps:// (got "${url.protocol}//…")`);
      return undefined;
    }
    if (!url.hostname) {
      add('SMTP_URL', 'has no host name');
      return undefined;
    }
    const secure = url.protocol === 'smtps:';
    let user: string | undefined;
    let password: string | undefined;
    try {
      user = url.username ? decodeURIComponent(url.username) : undefined;
      password = url.password ? decodeURIComponent(url.password) : undefined;
    } catch {
      // A stray "%" in the credentials would otherwise escape as a bare URIError that names no variable.
      add('SMTP_URL', 'has a user name or password that is not valid percent-encoding; write "%" as %25');
      return undefined;
    }
    return {
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port ? Number(url.port) : secure ? 465 : 587,
      secure,
      user,
      password,
    };
  }
  if (e.SMTP_HOST !== undefined) {
    const secure = e.SMTP_SECURE ?? e.SMTP_PORT === 465;
    return {
      host: e.SMTP_HOST,
      port: e.SMTP_PORT ?? (secure ? 465 : 587),
      secure,
      user: e.SMTP_USER,
      password: e.SMTP_PASSWORD,
    };
  }
  for (const orphan of ['SMTP_PORT', 'SMTP_USER', 'SMTP_PASSWORD'] as const) {
    if (e[orphan] !== undefined) add(orphan, 'is set but SMTP_HOST is not; set SMTP_HOST too (or use SMTP_URL)');
  }
  return undefined;
}

export function parseDkim(e: MailEnv, add: Add): DkimConfig | undefined {
  const parts = { DKIM_DOMAIN: e.DKIM_DOMAIN, DKIM_SELECTOR: e.DKIM_SELECTOR, DKIM_PRIVATE_KEY: e.DKIM_PRIVATE_KEY };
  const set = Object.entries(parts).filter(([, v]) => v !== undefined);
  if (set.length === 0) return undefined;
  if (set.length < 3) {
    for (const [k, v] of Object.entries(parts)) {
      if (v === undefined) add(k, 'is required when any DKIM_* variable is set');
    }
    return undefined;
  }
  // Environment files often carry a PEM on one line with literal "\n" separators.
  const privateKey = parts.DKIM_PRIVATE_KEY!.replace(/\\n/g, '\n');
  try {
    const key = createPrivateKey(privateKey);
    if (key.asymmetricKeyType !== 'rsa' && key.asymmetricKeyType !== 'ed25519') {
      add('DKIM_PRIVATE_KEY', 'must be an RSA (2048 bits or more) or Ed25519 private key');
    } else if (key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 1024) {
      add('DKIM_PRIVATE_KEY', 'RSA keys must have at least 1024 bits (2048 recommended)');
    }
  } catch {
    add('DKIM_PRIVATE_KEY', 'is not a PEM private key (-----BEGIN PRIVATE KEY----- …)');
  }
  if (!/^[a-z0-9.-]+\.[a-z]{2,}$/i.test(parts.DKIM_DOMAIN!)) add('DKIM_DOMAIN', 'must be a domain name like example.com');
  if (!/^[a-z0-9._-]+$/i.test(parts.DKIM_SELECTOR!)) add('DKIM_SELECTOR', 'must be a DNS label like "gazette"');
  return { domain: parts.DKIM_DOMAIN!, selector: parts.DKIM_SELECTOR!, privateKey };
}

export function hostnameForMail(baseUrl: string): string {
  const host = new URL(baseUrl).hostname;
  // An IP address or a bare host name is no mail domain; use a syntactically valid stand-in.
  return /^[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$/i.test(host) ? host : 'localhost.localdomain';
}
