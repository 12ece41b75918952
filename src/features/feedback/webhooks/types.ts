import type { IncomingHttpHeaders } from 'node:http';
import { BadRequestError, UnauthorizedError } from '../../../lib/errors.js';
import { constantTimeEqual } from '../../../lib/tokens.js';
import type { FeedbackReport } from '../report.js';

export const PROVIDERS = ['ses', 'postmark', 'mailgun', 'sendgrid', 'brevo', 'resend'] as const;
export type Provider = (typeof PROVIDERS)[number];

/** One webhook call as the adapter sees it: the body exactly as sent (signatures cover those bytes). */
export interface WebhookCall {
  rawBody: Buffer;
  headers: IncomingHttpHeaders;
  query: Record<string, string | undefined>;
  /** The injected clock's time, for replay windows. */
  now: number;
}

export interface WebhookResult {
  reports: FeedbackReport[];
  /** Events of the call that say nothing about an address (deliveries, opens, delays). */
  ignored: number;
  /** Amazon SNS only: the verified SubscribeURL to visit to confirm the subscription. */
  subscribeUrl?: string;
}

/** Checks the call is from the provider and turns it into reports; throws WebhookRefusal or BadRequestError. */
export interface WebhookAdapter {
  handle(call: WebhookCall): Promise<WebhookResult>;
}

/** The call is not from the provider (missing, wrong or stale signature): answered 401 and logged. */
export class WebhookRefusal extends UnauthorizedError {
  constructor(readonly reason: string) {
    super('The webhook call could not be authenticated.');
  }
}

/** Signatures and replay windows allow this much clock difference. */
export const REPLAY_WINDOW_MS = 5 * 60_000;

export function header(call: WebhookCall, name: string): string | undefined {
  const v = call.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new BadRequestError({ body: 'must be JSON' }, 'The webhook body is not JSON.');
  }
}

export function malformed(what: string): BadRequestError {
  return new BadRequestError({ body: what }, `The webhook body is not what the provider sends: ${what}.`);
}

export type Json = Record<string, unknown>;
export const obj = (v: unknown): Json | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined);
export const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : typeof v === 'number' ? String(v) : undefined);

/** An ISO date or epoch seconds as epoch ms, or `fallback`. */
export function timeOf(v: unknown, fallback: number): number {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.round(v < 1e11 ? v * 1000 : v);
  if (typeof v === 'string') {
    const t = Date.parse(v);
    if (Number.isFinite(t)) return t;
  }
  return fallback;
}

/** The enhanced status code (RFC 3463) in a relay's text, e.g. "550 5.1.1 <x>: user unknown" → 5.1.1. */
export function statusCodeIn(text: string | undefined): string | undefined {
  return text ? /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(text)?.[1] : undefined;
}

/**
 * Providers without signatures (Postmark, Brevo) authenticate with a shared secret the writer puts in the
 * webhook's URL or headers: HTTP basic auth (the secret is the password, or `user:password`), a bearer
 * token, or `?token=`.
 */
export function checkSharedSecret(call: WebhookCall, secret: string): void {
  const auth = header(call, 'authorization') ?? '';
  const candidates: string[] = [];
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(auth);
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    candidates.push(secret.includes(':') ? decoded : decoded.slice(decoded.indexOf(':') + 1));
  }
  const bearer = /^Bearer\s+(\S+)$/i.exec(auth);
  if (bearer) candidates.push(bearer[1]!);
  if (call.query.token) candidates.push(call.query.token);
  if (candidates.length === 0) throw new WebhookRefusal('no credentials');
  if (!candidates.some((c) => constantTimeEqual(c, secret))) throw new WebhookRefusal('wrong credentials');
}
