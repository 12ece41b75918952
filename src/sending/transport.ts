import type { MessageTemplate, Recipient } from './message.js';

/**
 * Where the engine hands compiled messages: a pool of SMTP connections (smtp-pool.ts) or, without a
 * relay, the dev outbox. Every attempt ends in exactly one outcome class; the engine maps classes to
 * delivery states (research/reliability-security.md §3.1):
 *   sent     the relay answered 2xx to the end of DATA
 *   retry    a 4xx, or the connection failed before the final dot of DATA went out: the relay has not got it
 *            (a rate answer is marked `throttled`: it goes back to the queue, see relay-rate.ts)
 *   failed   a 5xx for this recipient; `suppress` when it says the address does not exist
 *   unknown  the connection was lost after the final dot went out, before the answer: maybe delivered
 *   relay    the relay itself is unusable (refused, login or TLS failure, sender refused):
 *            pause the whole send, the recipient is not at fault
 *   post     every message of this post would be refused the same way (size, content): pause it
 */
export type SendOutcome =
  | { kind: 'sent'; response: string }
  /** `throttled`: a rate answer (isRateAnswer), the relay's quota rather than the recipient. */
  | { kind: 'retry'; error: string; code?: number; throttled?: boolean }
  | { kind: 'failed'; error: string; code?: number; suppress: boolean }
  | { kind: 'unknown'; error: string }
  | { kind: 'relay'; error: string; code?: number }
  | { kind: 'post'; error: string; code?: number };

export interface OutgoingRaw {
  from: string;
  to: string;
  raw: Buffer;
  messageId: string;
  /** Plain subject, for listings (the dev outbox). */
  subject: string;
}

/** A message the transport renders itself, from its post's template and one recipient. */
export interface OutgoingTemplated {
  from: string;
  template: MessageTemplate;
  recipient: Recipient;
  /** The Date header's time (the engine's clock). */
  date: number;
}

/** A message handed over before it may go (see BulkTransport.prepare). */
export interface Prepared {
  /** The message may go now (its `attempting` marker is durable); resolves with how it went. */
  release(): Promise<SendOutcome>;
  /** It must not go: nothing of it is delivered. */
  cancel(): void;
}

export interface BulkTransport {
  readonly kind: 'smtp' | 'dev-outbox';
  /** Messages that may be in flight at once (SMTP_POOL_SIZE for the relay). */
  readonly concurrency: number;
  send(message: OutgoingRaw): Promise<SendOutcome>;
  /**
   * Present when the transport renders messages where it sends them (the SMTP worker thread): the
   * main thread then hands over a recipient record instead of 14 KB of message, and renders nothing.
   * Not used with DKIM (messages are signed in their own threads first).
   */
  sendTemplated?(message: OutgoingTemplated): Promise<SendOutcome>;
  /**
   * Present when the transport can start a message before it may go: the SMTP pool opens its envelope
   * (MAIL, RCPT, DATA) at once and sends the body only on `release()`, so the round trip of the envelope
   * overlaps the commit that marks the row `attempting`. Nothing of the message is delivered before
   * `release()`; `cancel()` guarantees it never is.
   */
  prepare?(message: OutgoingRaw | OutgoingTemplated): Prepared;
  /** Resolves once the transport can send at once (e.g. its worker thread is up), so no message is
   *  marked `attempting` long before it can really go out. */
  ready?(): Promise<void>;
  /** Opens (and closes) one session to learn whether the relay is usable again. */
  probe(): Promise<{ ok: true } | { ok: false; error: string }>;
  close(): Promise<void>;
}

interface SmtpErrorLike {
  message?: string;
  code?: string;
  responseCode?: number;
  response?: string;
  command?: string;
  originalCode?: string;
}

/** One line for the delivery row and the progress page: the relay's own words when it gave any. */
export function describeSmtpError(err: unknown): string {
  const e = (err ?? {}) as SmtpErrorLike;
  const text = e.response ? e.response : `${e.originalCode ?? e.code ?? 'error'}: ${e.message ?? String(err)}`;
  return text.replace(/\s+/g, ' ').trim().slice(0, 500);
}

const ENHANCED = /\b([245])\.(\d{1,3})\.(\d{1,3})\b/;

/** What relays say when a sender goes faster than its quota (SES, Mailgun, Postfix's anvil, Exchange…). */
const RATE_WORDS = /\b(rate|throttl\w*|too many (messages|mails|emails|connections|requests)|too much mail|slow down|sending limit|exceeded)\b/i;

/**
 * Whether an answer is the relay's quota speaking: a 421 (the relay is closing the session: never the
 * recipient's fault), or a 450/451/452/454 saying so in words. Greylisting and full mailboxes are 4xx too,
 * but about one recipient (4.2.x mailbox status, 4.1.x address status, "greylist"), and stay per-recipient
 * retries.
 */
export function isRateAnswer(code: number, response: string): boolean {
  if (code === 421) return true;
  if (![450, 451, 452, 454].includes(code)) return false;
  const klass = ENHANCED.exec(response)?.[2];
  if (klass === '1' || klass === '2' || /grey|gray/i.test(response)) return false;
  return RATE_WORDS.test(response);
}

/**
 * Classifies a failed send on an SMTP session (smtp-session.ts). `dataSent` says whether the message's
 * final dot may have gone out: a connection lost after that may have delivered the message (RFC 1047),
 * one lost before it (mid-message included) certainly did not.
 */
export function classifySendError(err: unknown, dataSent: boolean): SendOutcome {
  const e = (err ?? {}) as SmtpErrorLike;
  const error = describeSmtpError(err);
  const code = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  if (code === undefined) {
    if (e.code === 'EMESSAGE' && /larger than allowed/i.test(e.message ?? '')) return { kind: 'post', error };
    if (dataSent) return { kind: 'unknown', error };
    return { kind: 'retry', error };
  }
  if (isRateAnswer(code, e.response ?? '')) return { kind: 'retry', error, code, throttled: true };
  // 503 (bad sequence of commands) is about the session, not the message.
  if (code < 500 || code === 503) return { kind: 'retry', error, code };
  const enhanced = ENHANCED.exec(e.response ?? '');
  const klass = enhanced ? `${enhanced[2]}.${enhanced[3]}` : '';
  if (e.command === 'MAIL FROM') return { kind: 'relay', error, code };
  if (e.command === 'DATA') {
    if (code === 552 || klass === '3.4' || klass.startsWith('6.')) return { kind: 'post', error, code };
    // Policy refusals (5.7.x, e.g. spam filters) are about this message, not a dead address.
    return { kind: 'failed', error, code, suppress: !klass.startsWith('7.') };
  }
  if (klass === '7.1' && /relay/i.test(e.response ?? '')) return { kind: 'relay', error, code };
  return { kind: 'failed', error, code, suppress: !klass.startsWith('7.') };
}

/** Classifies a failure to open a session (connect, greeting, STARTTLS, login): never the recipient's fault. */
export function classifySessionError(err: unknown): { fatal: boolean; error: string; code?: number } {
  const e = (err ?? {}) as SmtpErrorLike;
  const error = describeSmtpError(err);
  const code = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  const fatal = e.code === 'EAUTH' || e.code === 'ENOAUTH' || e.code === 'ETLS' || (code !== undefined && code >= 500);
  return { fatal, error, ...(code !== undefined ? { code } : {}) };
}

const LF_DOT = Buffer.from('\n.');
const CR_DOT = Buffer.from('\r.');

/**
 * Whether a message can go inside SMTP DATA exactly as it is: it ends with CRLF, no line starts with
 * a dot (so no dot-stuffing is needed), and no CR or LF anywhere is followed by a dot, so however a
 * receiver reads line ends, nothing inside can look like the end of the data (SMTP smuggling).
 * Two native searches instead of the escaping transform's byte-by-byte pass. Compiled messages always
 * pass (their body is quoted-printable with "=2E" for a leading dot, and they have CRLF line ends
 * only, which the message tests check on the wire); anything else takes the escaping path.
 */
export function isWireReady(raw: Buffer): boolean {
  const n = raw.length;
  return n >= 2 && raw[0] !== 0x2e && raw[n - 2] === 0x0d && raw[n - 1] === 0x0a && raw.indexOf(LF_DOT) === -1 && raw.indexOf(CR_DOT) === -1;
}

/**
 * Dot-stuffing for a message that is not wire-ready: CRLF line ends everywhere (a lone CR or LF
 * becomes one, so no receiver can read an end of data into the content) and a second dot before any
 * line that starts with one; ends with CRLF.
 */
export function stuff(raw: Buffer): Buffer {
  let text = raw.toString('latin1').replace(/\r\n|\r|\n/g, '\r\n');
  text = text.replace(/(^|\r\n)\./g, '$1..');
  if (!text.endsWith('\r\n')) text += '\r\n';
  return Buffer.from(text, 'latin1');
}
