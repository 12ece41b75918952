import { createPrivateKey, createPublicKey } from 'node:crypto';
import path from 'node:path';
import { z } from 'zod';
import { isValidEmail, parseMailbox } from './lib/email.js';
import { parseBackupConfig, type BackupConfig } from './backup/settings.js';
import { parseBounceMailboxConfig, parseBounceVerpConfig, type BounceMailboxSettings, type BounceVerpSettings } from './features/feedback/mailbox/settings.js';

/**
 * Configuration comes only from the environment. It is parsed once, here, into a frozen object; every
 * bad variable is reported together so an operator fixes them in one pass instead of one per restart.
 */

export type DatabaseConfig = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string };

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

export interface MediaS3Config {
  endpoint: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export interface StripeConfig {
  secretKey: string;
  webhookSecret: string;
  /** Where the Stripe API is reached; undefined: Stripe's own (https://api.stripe.com). */
  apiBase: string | undefined;
}

export interface SentryConfig {
  dsn: string;
  environment: string;
}

export interface SignupConfig {
  /** Look up MX (or A/AAAA) records of a new address's domain. */
  dnsCheck: boolean;
  /** The whole lookup's budget; past it the sign-up goes through, flagged as unverified. */
  dnsTimeoutMs: number;
  /** `ip` or `ip:port` of the resolvers to ask; undefined means the system's. */
  dnsServers: string[] | undefined;
  /** What happens to an address at a throwaway-mailbox provider. */
  disposable: 'reject' | 'hold' | 'allow';
  /** Domains never treated as disposable (and never offered a typo correction). */
  allowedDomains: string[];
  /** Sign-ups per minute above which the proof-of-work challenge turns on by itself. */
  attackThresholdPerMinute: number;
  /** A third-party challenge used instead of the built-in proof of work. */
  captcha: CaptchaConfig | undefined;
}

export interface CaptchaConfig {
  provider: 'turnstile' | 'hcaptcha';
  siteKey: string;
  secret: string;
  /** The provider's siteverify endpoint (its public one unless CAPTCHA_VERIFY_URL says otherwise). */
  verifyUrl: string;
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

const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const integer = (name: string, min: number, max: number) =>
  optionalText.transform((v, ctx) => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
      ctx.addIssue({ code: 'custom', message: `must be a whole number from ${min} to ${max} (got "${v}")` });
      return z.NEVER;
    }
    return Number(v);
  }).describe(name);

const positiveNumber = optionalText.transform((v, ctx) => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) {
    ctx.addIssue({ code: 'custom', message: `must be a positive number (got "${v}")` });
    return z.NEVER;
  }
  return n;
});

const boolean = optionalText.transform((v, ctx) => {
  if (v === undefined) return undefined;
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  ctx.addIssue({ code: 'custom', message: `must be true or false (got "${v}")` });
  return z.NEVER;
});

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
  SCHEDULE_MAX_LATENESS: integer('SCHEDULE_MAX_LATENESS', 0, 10080),
  LOG_LEVEL: optionalText.refine((v) => v === undefined || (LOG_LEVELS as readonly string[]).includes(v), {
    message: `must be one of ${LOG_LEVELS.join(', ')}`,
  }),
  TRUST_PROXY: optionalText,
  SUBSCRIBE_BLOCKED_DOMAINS: optionalText.refine(
    (v) => v === undefined || v.split(',').every((d) => /^[a-z0-9.-]+\.[a-z]{2,}$/i.test(d.trim()) || d.trim() === ''),
    { message: 'must be a comma-separated list of domains like spam.example,mailinator.com' },
  ),
  RECORD_SUBSCRIBER_IP: boolean,
  BOUNCE_SES_TOPIC_ARNS: optionalText.refine((v) => v === undefined || v.split(',').every((a) => SNS_TOPIC_ARN.test(a.trim())), {
    message: 'must be a comma-separated list of SNS topic ARNs like arn:aws:sns:eu-west-1:123456789012:ses-bounces',
  }),
  BOUNCE_POSTMARK_SECRET: optionalText.refine((v) => v === undefined || v.length >= 16, { message: 'must be at least 16 characters (a password, or user:password)' }),
  BOUNCE_MAILGUN_SIGNING_KEY: optionalText,
  BOUNCE_SENDGRID_PUBLIC_KEY: optionalText,
  BOUNCE_BREVO_SECRET: optionalText.refine((v) => v === undefined || v.length >= 16, { message: 'must be at least 16 characters (a token, or user:password)' }),
  BOUNCE_RESEND_SECRET: optionalText.refine((v) => v === undefined || /^whsec_[A-Za-z0-9+/]{16,}={0,2}$/.test(v), { message: 'must be the signing secret Resend shows, starting with whsec_' }),
  BOUNCE_WEBHOOK_RATE_LIMIT: integer('BOUNCE_WEBHOOK_RATE_LIMIT', 1, 1000000),
  SUBSCRIBE_RATE_LIMIT: integer('SUBSCRIBE_RATE_LIMIT', 1, 100000),
  LINK_CHECK_ALLOW_PRIVATE: boolean,
  LINK_CHECK_TIMEOUT: integer('LINK_CHECK_TIMEOUT', 1, 60),
  WEBHOOKS_ALLOW_PRIVATE: boolean,
  API_RATE_LIMIT: integer('API_RATE_LIMIT', 1, 100000),
  EMAIL_DNS_CHECK: boolean,
  EMAIL_DNS_TIMEOUT: integer('EMAIL_DNS_TIMEOUT', 10, 30000),
  EMAIL_DNS_SERVERS: optionalText.refine((v) => v === undefined || v.split(',').every((s) => /^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-f:]+\]|[0-9a-f:]+)(:\d{1,5})?$/i.test(s.trim())), {
    message: 'must be a comma-separated list of resolver addresses like 1.1.1.1,127.0.0.1:5353',
  }),
  DISPOSABLE_EMAILS: optionalText.refine((v) => v === undefined || ['reject', 'hold', 'allow'].includes(v), { message: 'must be reject, hold or allow' }),
  SUBSCRIBE_ALLOWED_DOMAINS: optionalText.refine((v) => v === undefined || v.split(',').every((d) => /^[a-z0-9.-]+\.[a-z0-9-]{2,}$/i.test(d.trim()) || d.trim() === ''), {
    message: 'must be a comma-separated list of domains like staff.example.org',
  }),
  SIGNUP_ATTACK_THRESHOLD: integer('SIGNUP_ATTACK_THRESHOLD', 1, 1000000),
  TURNSTILE_SITE_KEY: optionalText,
  TURNSTILE_SECRET: optionalText,
  HCAPTCHA_SITE_KEY: optionalText,
  HCAPTCHA_SECRET: optionalText,
  BACKUP_DIR: optionalText,
  BACKUP_SCHEDULE: optionalText,
  BACKUP_KEEP_DAILY: integer('BACKUP_KEEP_DAILY', 0, 366),
  BACKUP_KEEP_WEEKLY: integer('BACKUP_KEEP_WEEKLY', 0, 520),
  METRICS_TOKEN: optionalText.refine((v) => v === undefined || v.length >= 16, {
    message: 'must be at least 16 characters (generate one with: openssl rand -hex 24)',
  }),
  SENTRY_DSN: optionalText.refine((v) => v === undefined || isSentryDsn(v), {
    message: 'must be a DSN like https://<key>@o123.ingest.sentry.io/456 (Project settings → Client keys)',
  }),
  SENTRY_ENVIRONMENT: optionalText,
  LOG_FORMAT: optionalText.refine((v) => v === undefined || v === 'json' || v === 'pretty', { message: 'must be json or pretty' }),
  BOUNCE_IMAP_URL: optionalText,
  BOUNCE_IMAP_PASSWORD: optionalText,
  BOUNCE_IMAP_MAILBOX: optionalText,
  BOUNCE_IMAP_PROCESSED_FOLDER: optionalText,
  BOUNCE_IMAP_UNPARSED_FOLDER: optionalText,
  BOUNCE_IMAP_ALLOW_PLAINTEXT: boolean,
  BOUNCE_VERP_ADDRESS: optionalText,
  BOUNCE_VERP_DELIMITER: optionalText,
  STRIPE_SECRET_KEY: optionalText.refine((v) => v === undefined || /^(sk|rk)_(test|live)_[A-Za-z0-9]+$/.test(v), { message: 'must be a Stripe secret key starting with sk_test_, sk_live_ (or a restricted rk_ key)' }),
  STRIPE_WEBHOOK_SECRET: optionalText.refine((v) => v === undefined || /^whsec_[A-Za-z0-9+/=]+$/.test(v), { message: 'must be the signing secret Stripe shows for the endpoint, starting with whsec_' }),
  STRIPE_API_BASE: optionalText.refine((v) => v === undefined || /^https?:\/\/[^\s/]+\/?$/i.test(v), { message: 'must be an http(s) URL with no path, like https://api.stripe.com' }),
  MEDIA_S3_ENDPOINT: optionalText.refine((v) => v === undefined || /^https?:\/\/[^\s/]+(\/[^\s]*)?$/i.test(v), { message: 'must be the bucket service\'s http(s) URL, like https://s3.eu-west-1.amazonaws.com' }),
  MEDIA_S3_BUCKET: optionalText.refine((v) => v === undefined || /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(v), { message: 'must be a bucket name: 3 to 63 lowercase letters, digits, dots and dashes' }),
  MEDIA_S3_ACCESS_KEY_ID: optionalText,
  MEDIA_S3_SECRET_ACCESS_KEY: optionalText,
  MEDIA_S3_REGION: optionalText.refine((v) => v === undefined || /^[a-z0-9-]{2,40}$/.test(v), { message: 'must be a region name like eu-west-1 (or auto for Cloudflare R2)' }),
  CAPTCHA_VERIFY_URL: optionalText.refine((v) => v === undefined || /^https?:\/\/[^\s]+$/i.test(v), { message: 'must be an http(s) URL' }),
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
    subscribeBlockedDomains: (e.SUBSCRIBE_BLOCKED_DOMAINS ?? '')
      .split(',')
      .map((d) => d.trim().toLowerCase())
      .filter(Boolean),
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
    sentry: e.SENTRY_DSN === undefined ? undefined : { dsn: e.SENTRY_DSN, environment: e.SENTRY_ENVIRONMENT ?? 'production' },
    logFormat: e.LOG_FORMAT === 'pretty' ? 'pretty' : 'json',
    stripe,
    mediaS3,
  } satisfies Config);
}

/** A bucket for images needs its address, its name and both keys; the region defaults to us-east-1. */
function parseMediaS3(e: Partial<Env>, add: Add): MediaS3Config | undefined {
  const { MEDIA_S3_ENDPOINT: endpoint, MEDIA_S3_BUCKET: bucket, MEDIA_S3_ACCESS_KEY_ID: accessKeyId, MEDIA_S3_SECRET_ACCESS_KEY: secretAccessKey } = e;
  const given = { MEDIA_S3_ENDPOINT: endpoint, MEDIA_S3_BUCKET: bucket, MEDIA_S3_ACCESS_KEY_ID: accessKeyId, MEDIA_S3_SECRET_ACCESS_KEY: secretAccessKey };
  const missing = Object.entries(given).filter(([, v]) => v === undefined).map(([k]) => k);
  if (missing.length === 4) {
    if (e.MEDIA_S3_REGION !== undefined) add('MEDIA_S3_REGION', 'is set but MEDIA_S3_ENDPOINT and MEDIA_S3_BUCKET are not');
    return undefined;
  }
  for (const variable of missing) add(variable, 'must be set too when another MEDIA_S3_ variable is (images go to the bucket only with all four)');
  if (!endpoint || !bucket || !accessKeyId || !secretAccessKey) return undefined;
  return { endpoint: endpoint.replace(/\/+$/, ''), bucket, region: e.MEDIA_S3_REGION ?? 'us-east-1', accessKeyId, secretAccessKey };
}

/** Both secrets, or neither: with one alone, paid plans could be sold but never recorded (or the reverse). */
function parseStripe(e: Partial<Env>, add: Add, raw: Record<string, string | undefined>): StripeConfig | undefined {
  const { STRIPE_SECRET_KEY: secretKey, STRIPE_WEBHOOK_SECRET: webhookSecret } = e;
  // A value that is set but malformed is already reported by the schema; only an absent one is reported here.
  const given = (name: string) => (raw[name] ?? '').trim() !== '';
  if (!given('STRIPE_SECRET_KEY') && !given('STRIPE_WEBHOOK_SECRET')) {
    if (e.STRIPE_API_BASE !== undefined) add('STRIPE_API_BASE', 'is set but STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET are not');
    return undefined;
  }
  if (!given('STRIPE_SECRET_KEY')) add('STRIPE_SECRET_KEY', 'must be set too when STRIPE_WEBHOOK_SECRET is');
  if (!given('STRIPE_WEBHOOK_SECRET')) add('STRIPE_WEBHOOK_SECRET', 'must be set too when STRIPE_SECRET_KEY is (Stripe shows it for the webhook endpoint)');
  if (secretKey === undefined || webhookSecret === undefined) return undefined;
  return { secretKey, webhookSecret, apiBase: e.STRIPE_API_BASE?.replace(/\/$/, '') };
}

export interface BounceWebhookConfig {
  /** SNS topics whose notifications are accepted; their regions decide which certificate hosts are trusted. */
  sesTopicArns: string[];
  postmarkSecret: string | undefined;
  mailgunSigningKey: string | undefined;
  /** PEM of the ECDSA P-256 key SendGrid shows for its signed event webhook. */
  sendgridPublicKey: string | undefined;
  brevoSecret: string | undefined;
  resendSecret: string | undefined;
  /** Requests per second each provider's webhook takes before answering 429 (the provider retries). */
  ratePerSecond: number;
}

const SNS_TOPIC_ARN = /^arn:aws(-cn|-us-gov)?:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]{1,256}$/;

function parseBounceWebhooks(e: Partial<Env>, add: Add): BounceWebhookConfig {
  let sendgridPublicKey: string | undefined;
  if (e.BOUNCE_SENDGRID_PUBLIC_KEY !== undefined) {
    const text = e.BOUNCE_SENDGRID_PUBLIC_KEY.replace(/\\n/g, '\n');
    try {
      const key = text.includes('BEGIN PUBLIC KEY')
        ? createPublicKey(text)
        : createPublicKey({ key: Buffer.from(text, 'base64'), format: 'der', type: 'spki' });
      if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new Error('not P-256');
      sendgridPublicKey = key.export({ format: 'pem', type: 'spki' }).toString();
    } catch {
      add('BOUNCE_SENDGRID_PUBLIC_KEY', 'must be the verification key SendGrid shows (an ECDSA P-256 public key, base64 or PEM)');
    }
  }
  return {
    sesTopicArns: (e.BOUNCE_SES_TOPIC_ARNS ?? '').split(',').map((a) => a.trim()).filter(Boolean),
    postmarkSecret: e.BOUNCE_POSTMARK_SECRET,
    mailgunSigningKey: e.BOUNCE_MAILGUN_SIGNING_KEY,
    sendgridPublicKey,
    brevoSecret: e.BOUNCE_BREVO_SECRET,
    resendSecret: e.BOUNCE_RESEND_SECRET,
    ratePerSecond: e.BOUNCE_WEBHOOK_RATE_LIMIT ?? 2000,
  };
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

type Add = (variable: string, message: string) => void;

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

function parseSmtp(e: Partial<Env>, add: Add): SmtpConfig | undefined {
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

function parseDkim(e: Partial<Env>, add: Add): DkimConfig | undefined {
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

const domainList = (value: string | undefined) =>
  (value ?? '')
    .split(',')
    .map((d) => d.trim().toLowerCase())
    .filter(Boolean);

function parseSignup(e: Partial<Env>, add: Add): SignupConfig {
  const turnstile = e.TURNSTILE_SITE_KEY !== undefined || e.TURNSTILE_SECRET !== undefined;
  const hcaptcha = e.HCAPTCHA_SITE_KEY !== undefined || e.HCAPTCHA_SECRET !== undefined;
  let captcha: CaptchaConfig | undefined;
  if (turnstile && hcaptcha) add('TURNSTILE_SECRET', 'set either the TURNSTILE_* or the HCAPTCHA_* pair, not both');
  else if (turnstile || hcaptcha) {
    const [site, secret, provider, url] = turnstile
      ? (['TURNSTILE_SITE_KEY', 'TURNSTILE_SECRET', 'turnstile', 'https://challenges.cloudflare.com/turnstile/v0/siteverify'] as const)
      : (['HCAPTCHA_SITE_KEY', 'HCAPTCHA_SECRET', 'hcaptcha', 'https://api.hcaptcha.com/siteverify'] as const);
    if (e[site] === undefined) add(site, `is required when ${secret} is set`);
    else if (e[secret] === undefined) add(secret, `is required when ${site} is set`);
    else captcha = { provider, siteKey: e[site], secret: e[secret], verifyUrl: e.CAPTCHA_VERIFY_URL ?? url };
  }
  return {
    dnsCheck: e.EMAIL_DNS_CHECK ?? true,
    dnsTimeoutMs: e.EMAIL_DNS_TIMEOUT ?? 2000,
    dnsServers: e.EMAIL_DNS_SERVERS === undefined ? undefined : e.EMAIL_DNS_SERVERS.split(',').map((s) => s.trim()).filter(Boolean),
    disposable: (e.DISPOSABLE_EMAILS as SignupConfig['disposable'] | undefined) ?? 'reject',
    allowedDomains: domainList(e.SUBSCRIBE_ALLOWED_DOMAINS),
    attackThresholdPerMinute: e.SIGNUP_ATTACK_THRESHOLD ?? 30,
    captcha,
  };
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

/** A Sentry DSN: http(s), a public key as the user name, and a project id as the last path segment. */
function isSentryDsn(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.username !== '' && /\/\d+$/.test(url.pathname);
  } catch {
    return false;
  }
}

function hostnameForMail(baseUrl: string): string {
  const host = new URL(baseUrl).hostname;
  // An IP address or a bare host name is no mail domain; use a syntactically valid stand-in.
  return /^[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$/i.test(host) ? host : 'localhost.localdomain';
}

/** Hides the password part of a URL so it can appear in logs and error messages. */
export function redactUrl(value: string): string {
  return value.replace(/(\/\/[^:/@]*:)[^@/]*@/, '$1****@');
}
