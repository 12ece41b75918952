import path from 'node:path';
import { z } from 'zod';
import { parseBackupConfig, type BackupConfig } from './backup/settings.js';
import {
  integrationsEnv, parseBounceWebhooks, parseMediaS3, parseSentry, parseStripe,
  type BounceWebhookConfig, type MediaS3Config, type SentryConfig, type StripeConfig,
} from './config/integrations.js';
import { hostnameForMail, mailEnv, parseDkim, parseSmtp, type DkimConfig, type SmtpConfig } from './config/mail.js';
import { parseSignup, signupEnv, type SignupConfig } from './config/signup.js';
import { boolean, domainList, integer, optionalText, type Add } from './config/values.js';
import { parseBounceMailboxConfig, parseBounceVerpConfig, type BounceMailboxSettings, type BounceVerpSettings } from './features/feedback/mailbox/settings.js';
import { isValidEmail, parseMailbox } from './lib/email.js';

export type { BounceWebhookConfig, MediaS3Config, SentryConfig, StripeConfig } from './config/integrations.js';
export type { DkimConfig, SmtpConfig } from './config/mail.js';
export type { CaptchaConfig, SignupConfig } from './config/signup.js';

/**
 * Configuration comes only from the environment. It is parsed once, here, into a frozen object; every
 * bad variable is reported together so an operator fixes them in one pass instead of one per restart.
 * The variables of mail, sign-ups and third parties, and their parsers, live in src/config/.
 */

export type DatabaseConfig = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string };

export interface Config {
  port: number;
  host: string;
  /** Public URL without a trailing slash; used in emails and to check Origin headers. */
  baseUrl: string;
  /** Cookies get `Secure` when the public URL is https. */
  secureCookies: boolean;
  dataDir: string;
  database: DatabaseConfig;
  /** How long start-up keeps retrying an unreachable database before giving up. */
  databaseConnectTimeoutMs: number;
  /** Undefined means: the server generates one and keeps it in DATA_DIR. */
  secretKey: string | undefined;
  smtp: SmtpConfig | undefined;
  smtpPoolSize: number;
  /** Messages per second across the pool; undefined means as fast as the relay accepts. */
  sendRate: number | undefined;
  mailFrom: string;
  dkim: DkimConfig | undefined;
  /** Optional mailbox for the mailto: form of List-Unsubscribe; requests are carried out when it delivers into the bounce mailbox. */
  listUnsubscribeMailto: string | undefined;
  /** A scheduled post missed by more than this is held for the writer instead of being sent late. */
  scheduleMaxLatenessMs: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  trustProxy: boolean | number | string[];
  /** Sign-ups from these domains (and their subdomains) are refused. */
  subscribeBlockedDomains: string[];
  /** Keep the sign-up IP address as consent evidence (off by default: it is personal data). */
  recordSubscriberIp: boolean;
  /** Subscribe requests per minute from one IP address. */
  subscribeRateLimitPerIp: number;
  /** Link checks may reach private, loopback and link-local addresses (an intranet's own sites). */
  linkCheckAllowPrivate: boolean;
  /** One link check's deadline, redirects included. */
  linkCheckTimeoutMs: number;
  /** Outgoing webhooks may be sent to private, loopback and link-local addresses (an intranet's own tools). */
  webhooksAllowPrivate: boolean;
  /** Requests each API key may send per minute. */
  apiRateLimit: number;
  /** Address checks and sign-up defences (README, "Signup protection"). */
  signup: SignupConfig;
  /** Relay webhooks for bounces and complaints (README, "Bounces and complaints"); a provider without its secret is off. */
  bounceWebhooks: BounceWebhookConfig;
  backup: BackupConfig;
  /** The IMAP mailbox bounces and complaints arrive in (README, "Bounce mailbox"); undefined: not polled. */
  bounceMailbox: BounceMailboxSettings | undefined;
  /** VERP return paths for bulk mail (README, "Bounce mailbox"); undefined: MAIL FROM is the From address. */
  bounceVerp: BounceVerpSettings | undefined;
  /** Bearer token for /metrics; undefined turns /metrics off (it answers 404). */
  metricsToken: string | undefined;
  /** Errors go to Sentry (or a compatible server) when a DSN is set; the SDK is not loaded otherwise. */
  sentry: SentryConfig | undefined;
  /** json: one JSON object per line (for log collectors); pretty: short text lines for a terminal. */
  logFormat: 'json' | 'pretty';
  /** Paid subscriptions (README, "Paid subscriptions"); undefined: nothing paid is shown anywhere. */
  stripe: StripeConfig | undefined;
  /** Where uploaded images are kept; undefined: under DATA_DIR/media. */
  mediaS3: MediaS3Config | undefined;
}

export interface ConfigProblem {
  variable: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(
      'Gazette cannot start; fix these settings:\n' +
        problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const envSchema = z.object({
  PORT: integer('PORT', 1, 65535),
  HOST: optionalText,
  BASE_URL: optionalText,
  DATA_DIR: optionalText,
  DATABASE_URL: optionalText,
  DATABASE_CONNECT_TIMEOUT: integer('DATABASE_CONNECT_TIMEOUT', 0, 3600),
  SECRET_KEY: optionalText.refine((v) => v === undefined || v.length >= 32, {
    message: 'must be at least 32 characters (generate one with: openssl rand -hex 32)',
  }),
  SCHEDULE_MAX_LATENESS: integer('SCHEDULE_MAX_LATENESS', 0, 10080),
  LOG_LEVEL: optionalText.refine((v) => v === undefined || (LOG_LEVELS as readonly string[]).includes(v), {
    message: `must be one of ${LOG_LEVELS.join(', ')}`,
  }),
  LOG_FORMAT: optionalText.refine((v) => v === undefined || v === 'json' || v === 'pretty', { message: 'must be json or pretty' }),
  TRUST_PROXY: optionalText,
  LINK_CHECK_ALLOW_PRIVATE: boolean,
  LINK_CHECK_TIMEOUT: integer('LINK_CHECK_TIMEOUT', 1, 60),
  WEBHOOKS_ALLOW_PRIVATE: boolean,
  API_RATE_LIMIT: integer('API_RATE_LIMIT', 1, 100000),
  METRICS_TOKEN: optionalText.refine((v) => v === undefined || v.length >= 16, {
    message: 'must be at least 16 characters (generate one with: openssl rand -hex 24)',
  }),
  BACKUP_DIR: optionalText,
  BACKUP_SCHEDULE: optionalText,
  BACKUP_KEEP_DAILY: integer('BACKUP_KEEP_DAILY', 0, 366),
  BACKUP_KEEP_WEEKLY: integer('BACKUP_KEEP_WEEKLY', 0, 520),
  BOUNCE_IMAP_URL: optionalText,
  BOUNCE_IMAP_PASSWORD: optionalText,
  BOUNCE_IMAP_MAILBOX: optionalText,
  BOUNCE_IMAP_PROCESSED_FOLDER: optionalText,
  BOUNCE_IMAP_UNPARSED_FOLDER: optionalText,
  BOUNCE_IMAP_ALLOW_PLAINTEXT: boolean,
  BOUNCE_VERP_ADDRESS: optionalText,
  BOUNCE_VERP_DELIMITER: optionalText,
  ...mailEnv,
  ...signupEnv,
  ...integrationsEnv,
});

type Env = z.infer<typeof envSchema>;

/** Parses `env` (normally process.env, handed over by server.ts or cli.ts) into a frozen Config. */
export function loadConfig(env: Record<string, string | undefined>, cwd = process.cwd()): Config {
  const problems: ConfigProblem[] = [];
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      problems.push({ variable: String(issue.path[0]), message: issue.message });
    }
  }
  // Keep going with whatever parsed so cross-variable checks can still report their own problems.
  const e: Partial<Env> = parsed.success ? parsed.data : partialParse(env);
  const add = (variable: string, message: string) => problems.push({ variable, message });

  const port = e.PORT ?? 3000;
  const dataDir = path.resolve(cwd, e.DATA_DIR ?? './data');
  const baseUrl = parseBaseUrl(e.BASE_URL, port, add);
  const database = parseDatabaseUrl(e.DATABASE_URL, dataDir, cwd, add);
  const smtp = parseSmtp(e, add);
  const dkim = parseDkim(e, add);
  const trustProxy = parseTrustProxy(e.TRUST_PROXY, add);
  const mailFrom = e.MAIL_FROM ?? `Gazette <gazette@${hostnameForMail(baseUrl)}>`;
  if (e.MAIL_FROM !== undefined && parseMailbox(e.MAIL_FROM) === undefined) {
    add('MAIL_FROM', `must be an address like "Name <you@example.com>" (got "${e.MAIL_FROM}")`);
  }

  const signup = parseSignup(e, add);
  const bounceWebhooks = parseBounceWebhooks(e, add);
  const backup = parseBackupConfig(e, dataDir, cwd, add);
  const bounceMailbox = parseBounceMailboxConfig(e, add);
  const bounceVerp = parseBounceVerpConfig(e, add);
  const stripe = parseStripe(e, add, env);
  const mediaS3 = parseMediaS3(e, add);

  const listUnsubscribeMailto = e.LIST_UNSUBSCRIBE_MAILTO?.replace(/^mailto:/i, '');
  if (listUnsubscribeMailto !== undefined && !isValidEmail(listUnsubscribeMailto)) {
    add('LIST_UNSUBSCRIBE_MAILTO', `must be a plain address like unsubscribe@example.com (got "${e.LIST_UNSUBSCRIBE_MAILTO}")`);
  }

  if (problems.length > 0) throw new ConfigError(problems);

  return deepFreeze({
    port,
    host: e.HOST ?? '0.0.0.0',
    baseUrl,
    secureCookies: baseUrl.startsWith('https:'),
    dataDir,
    database,
    databaseConnectTimeoutMs: (e.DATABASE_CONNECT_TIMEOUT ?? 30) * 1000,
    secretKey: e.SECRET_KEY,
    smtp,
    smtpPoolSize: e.SMTP_POOL_SIZE ?? 10,
    sendRate: e.SEND_RATE,
    mailFrom,
    dkim,
    listUnsubscribeMailto,
    scheduleMaxLatenessMs: (e.SCHEDULE_MAX_LATENESS ?? 60) * 60_000,
    logLevel: (e.LOG_LEVEL as Config['logLevel'] | undefined) ?? 'info',
    trustProxy,
    subscribeBlockedDomains: domainList(e.SUBSCRIBE_BLOCKED_DOMAINS),
    recordSubscriberIp: e.RECORD_SUBSCRIBER_IP ?? false,
    subscribeRateLimitPerIp: e.SUBSCRIBE_RATE_LIMIT ?? 10,
    linkCheckAllowPrivate: e.LINK_CHECK_ALLOW_PRIVATE ?? false,
    linkCheckTimeoutMs: (e.LINK_CHECK_TIMEOUT ?? 5) * 1000,
    webhooksAllowPrivate: e.WEBHOOKS_ALLOW_PRIVATE ?? false,
    apiRateLimit: e.API_RATE_LIMIT ?? 120,
    signup,
    bounceWebhooks,
    backup,
    bounceMailbox,
    bounceVerp,
    metricsToken: e.METRICS_TOKEN,
    sentry: parseSentry(e),
    logFormat: e.LOG_FORMAT === 'pretty' ? 'pretty' : 'json',
    stripe,
    mediaS3,
  } satisfies Config);
}

/** Freezes nested parts too (database, smtp, dkim, proxy list): Object.freeze alone leaves them writable. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Parses each variable on its own, so one bad variable does not hide the cross-checks of the others. */
function partialParse(env: Record<string, string | undefined>): Partial<Env> {
  const out: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(envSchema.shape)) {
    const r = (schema as z.ZodType).safeParse(env[key]);
    if (r.success) out[key] = r.data;
  }
  return out as Partial<Env>;
}

function parseBaseUrl(value: string | undefined, port: number, add: Add): string {
  if (value === undefined) return `http://localhost:${port}`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    add('BASE_URL', `must be an absolute http(s) URL like https://news.example.com (got "${value}")`);
    return `http://localhost:${port}`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    add('BASE_URL', `must start with http:// or https:// (got "${value}")`);
  } else if (url.search || url.hash) {
    add('BASE_URL', 'must not contain a query string or fragment');
  }
  return (url.origin + url.pathname).replace(/\/+$/, '');
}

function parseDatabaseUrl(value: string | undefined, dataDir: string, cwd: string, add: Add): DatabaseConfig {
  const fallback: DatabaseConfig = { kind: 'sqlite', file: path.join(dataDir, 'gazette.db') };
  if (value === undefined) return fallback;
  if (/^postgres(ql)?:\/\//i.test(value)) {
    try {
      const url = new URL(value);
      if (!url.hostname) throw new Error('no host');
    } catch {
      add('DATABASE_URL', 'is not a valid postgres:// URL (expected postgres://user:password@host:5432/database)');
    }
    return { kind: 'postgres', url: value };
  }
  const sqlite = /^(sqlite|file):(\/\/)?(.+)$/i.exec(value);
  if (sqlite?.[3]) {
    const file = sqlite[3];
    return { kind: 'sqlite', file: file === ':memory:' ? file : path.resolve(cwd, file) };
  }
  add(
    'DATABASE_URL',
    `has an unknown scheme; use postgres://… for Postgres or sqlite:path/to/file.db for SQLite (got "${redactUrl(value)}")`,
  );
  return fallback;
}

/**
 * Settings that start but deserve the operator's attention; server.ts logs each one at start-up.
 * They are not problems: refusing them would break deployments that work today.
 */
export function configWarnings(config: Config): string[] {
  const warnings: string[] = [];
  if (config.trustProxy === true) {
    warnings.push(
      'TRUST_PROXY=true believes the X-Forwarded-For header of every client, so anyone can choose the address ' +
        'the per-address limits on sign-in and sign-up see. Set TRUST_PROXY to the number of proxies in front of ' +
        'Gazette (usually 1) or to their addresses (e.g. 10.0.0.2 or 172.16.0.0/12) instead.',
    );
  }
  return warnings;
}

function parseTrustProxy(value: string | undefined, add: Add): Config['trustProxy'] {
  if (value === undefined || /^(false|0|no|off)$/i.test(value)) return false;
  if (/^(true|yes|on)$/i.test(value)) return true;
  if (/^\d+$/.test(value)) return Number(value);
  const list = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (list.every((s) => /^[0-9a-f.:]+(\/\d{1,3})?$/i.test(s))) return list;
  add('TRUST_PROXY', 'must be true, false, a hop count, or a comma-separated list of proxy IPs/CIDRs');
  return false;
}

/** Hides the password part of a URL so it can appear in logs and error messages. */
export function redactUrl(value: string): string {
  return value.replace(/(\/\/[^:/@]*:)[^@/]*@/, '$1****@');
}
