import { createPublicKey } from 'node:crypto';
import { integer, optionalText, type Add, type EnvOf } from './values.js';

/** Third parties Gazette talks to: relays' bounce webhooks, Stripe, an image bucket, Sentry. */

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

export const integrationsEnv = {
  BOUNCE_SES_TOPIC_ARNS: optionalText.refine((v) => v === undefined || v.split(',').every((a) => SNS_TOPIC_ARN.test(a.trim())), {
    message: 'must be a comma-separated list of SNS topic ARNs like arn:aws:sns:eu-west-1:123456789012:ses-bounces',
  }),
  BOUNCE_POSTMARK_SECRET: optionalText.refine((v) => v === undefined || v.length >= 16, { message: 'must be at least 16 characters (a password, or user:password)' }),
  BOUNCE_MAILGUN_SIGNING_KEY: optionalText,
  BOUNCE_SENDGRID_PUBLIC_KEY: optionalText,
  BOUNCE_BREVO_SECRET: optionalText.refine((v) => v === undefined || v.length >= 16, { message: 'must be at least 16 characters (a token, or user:password)' }),
  BOUNCE_RESEND_SECRET: optionalText.refine((v) => v === undefined || /^whsec_[A-Za-z0-9+/]{16,}={0,2}$/.test(v), { message: 'must be the signing secret Resend shows, starting with whsec_' }),
  BOUNCE_WEBHOOK_RATE_LIMIT: integer('BOUNCE_WEBHOOK_RATE_LIMIT', 1, 1000000),
  SENTRY_DSN: optionalText.refine((v) => v === undefined || isSentryDsn(v), {
    message: 'must be a DSN like https://<key>@o123.ingest.sentry.io/456 (Project settings → Client keys)',
  }),
  SENTRY_ENVIRONMENT: optionalText,
  STRIPE_SECRET_KEY: optionalText.refine((v) => v === undefined || /^(sk|rk)_(test|live)_[A-Za-z0-9]+$/.test(v), { message: 'must be a Stripe secret key starting with sk_test_, sk_live_ (or a restricted rk_ key)' }),
  STRIPE_WEBHOOK_SECRET: optionalText.refine((v) => v === undefined || /^whsec_[A-Za-z0-9+/=]+$/.test(v), { message: 'must be the signing secret Stripe shows for the endpoint, starting with whsec_' }),
  STRIPE_API_BASE: optionalText.refine((v) => v === undefined || /^https?:\/\/[^\s/]+\/?$/i.test(v), { message: 'must be an http(s) URL with no path, like https://api.stripe.com' }),
  MEDIA_S3_ENDPOINT: optionalText.refine((v) => v === undefined || /^https?:\/\/[^\s/]+(\/[^\s]*)?$/i.test(v), { message: 'must be the bucket service\'s http(s) URL, like https://s3.eu-west-1.amazonaws.com' }),
  MEDIA_S3_BUCKET: optionalText.refine((v) => v === undefined || /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(v), { message: 'must be a bucket name: 3 to 63 lowercase letters, digits, dots and dashes' }),
  MEDIA_S3_ACCESS_KEY_ID: optionalText,
  MEDIA_S3_SECRET_ACCESS_KEY: optionalText,
  MEDIA_S3_REGION: optionalText.refine((v) => v === undefined || /^[a-z0-9-]{2,40}$/.test(v), { message: 'must be a region name like eu-west-1 (or auto for Cloudflare R2)' }),
};

type IntegrationsEnv = EnvOf<typeof integrationsEnv>;

export function parseBounceWebhooks(e: IntegrationsEnv, add: Add): BounceWebhookConfig {
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

/** A bucket for images needs its address, its name and both keys; the region defaults to us-east-1. */
export function parseMediaS3(e: IntegrationsEnv, add: Add): MediaS3Config | undefined {
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
export function parseStripe(e: IntegrationsEnv, add: Add, raw: Record<string, string | undefined>): StripeConfig | undefined {
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

export function parseSentry(e: IntegrationsEnv): SentryConfig | undefined {
  return e.SENTRY_DSN === undefined ? undefined : { dsn: e.SENTRY_DSN, environment: e.SENTRY_ENVIRONMENT ?? 'production' };
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
