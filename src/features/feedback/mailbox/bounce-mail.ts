import { createHash } from 'node:crypto';
import type { FeedbackKind, FeedbackReport } from '../report.js';
import { isComplaint, parseFeedbackReport } from './arf.js';
import { addressOf, bounceKind, parseDeliveryStatus, statusFromReplyCode } from './dsn.js';
import { decodeWords, headerValue, parseHeaderBlock, parseMessage, partText, type HeaderField, type MimePart } from './mime.js';
import { looksLikeBounce, noticeOf, readTextBounce } from './text-bounce.js';
import { verpTokenIn, type VerpBase } from './verp.js';

/**
 * One mail from the bounce mailbox into what Gazette does with it: feedback reports (a DSN's failed
 * recipients, an ARF complaint), an unsubscribe request sent through the `mailto:` of List-Unsubscribe,
 * "ignored" for mail that is understood and needs nothing (auto-replies, delay notices, not-spam
 * reports), or "unparsed" for mail a human should look at.
 */

export type MailVerdict =
  | { outcome: 'reports'; format: 'dsn' | 'arf' | 'text' | 'mailto'; reports: FeedbackReport[] }
  /**
   * The subject names the reader by their personal token (the mailto's `?subject=unsubscribe <token>`);
   * the report's address is the token's subscriber, which the caller looks up.
   */
  | { outcome: 'unsubscribe'; token: string; report: Omit<FeedbackReport, 'address'> }
  | { outcome: 'ignored'; reason: string }
  | { outcome: 'unparsed'; reason: string };

export interface ReadOptions {
  /** Used when the mail gives no date of its own. */
  now: number;
  verp?: VerpBase | undefined;
}

/** The raw mail kept with each report is capped: the whole mail stays in the processed folder. */
export const RAW_LIMIT = 256 * 1024;

const DSN_TYPES = new Set(['message/delivery-status', 'message/global-delivery-status']);
const HEADER_TYPES = new Set(['text/rfc822-headers', 'message/rfc822-headers', 'message/global-headers']);

/** The parts of the report itself: the enclosed original message is not descended into. */
function reportParts(root: MimePart): MimePart[] {
  const out: MimePart[] = [];
  const visit = (p: MimePart) => {
    out.push(p);
    if (!p.type.startsWith('message/')) p.parts.forEach(visit);
  };
  visit(root);
  return out;
}

/** The headers of the original message, wherever the report put them. */
function originalHeaders(parts: MimePart[], noticeText: string): HeaderField[] | undefined {
  const enclosed = parts.find((p) => (p.type === 'message/rfc822' || p.type === 'message/global') && p.parts[0]);
  if (enclosed) return enclosed.parts[0]!.headers;
  const headersPart = parts.find((p) => HEADER_TYPES.has(p.type));
  if (headersPart) return parseHeaderBlock(partText(headersPart).split(/\r?\n\r?\n/)[0] ?? '');
  const { original } = noticeOf(noticeText);
  if (original) return parseHeaderBlock(original.split(/\r?\n[ \t]*\r?\n/)[0] ?? '');
  return undefined;
}

/**
 * The original's Message-ID from its returned headers; else from Gmail's X-Original-Message-ID field, or
 * the In-Reply-To that Gmail and Exchange put on their bounces.
 */
function originalMessageId(root: MimePart, parts: MimePart[], noticeText: string): string | undefined {
  const fromHeaders = messageIdOf(headerValue(originalHeaders(parts, noticeText) ?? [], 'message-id'));
  if (fromHeaders) return fromHeaders;
  const dsn = parts.find((p) => DSN_TYPES.has(p.type));
  const xOriginal = dsn ? /^x-original-message-id:\s*(.+)$/im.exec(partText(dsn))?.[1] : undefined;
  return messageIdOf(xOriginal) ?? messageIdOf(headerValue(root.headers, 'in-reply-to'));
}

function messageIdOf(value: string | undefined): string | undefined {
  const v = value?.slice(0, 1000);
  const m = v ? /<([^<>\s]+@[^<>\s]+)>/.exec(v) ?? /^\s*([^<>\s]+@[^<>\s]+)\s*$/.exec(v) : null;
  return m?.[1];
}

function dateOf(value: string | undefined): number | undefined {
  const t = value ? Date.parse(value.slice(0, 200).replace(/\s*\([^)]*\)\s*$/, '')) : NaN;
  return Number.isFinite(t) ? t : undefined;
}

/** Auto-replies (RFC 3834 and the common vendor headers, or a vacation subject): never a bounce. */
function isAutoReply(headers: HeaderField[]): boolean {
  const auto = (headerValue(headers, 'auto-submitted') ?? '').toLowerCase();
  if (auto.startsWith('auto-replied')) return true;
  if (headerValue(headers, 'x-autoreply') || headerValue(headers, 'x-autorespond') || headerValue(headers, 'x-autoreply-from')) return true;
  if (/^auto[_-]?reply$/i.test(headerValue(headers, 'precedence') ?? '')) return true;
  const subject = decodeWords(headerValue(headers, 'subject') ?? '').slice(0, 1000);
  return /^(auto(matic)? ?(reply|response|antwort)|out of (the )?office|abwesenheitsnotiz|r[ée]ponse automatique|vacation|away from)/i.test(subject.replace(/^\s*\[[^\]]*\]\s*/, ''));
}

interface Context {
  root: MimePart;
  parts: MimePart[];
  raw: string;
  reportId: string;
  verpToken: string | undefined;
  occurredAt: number;
  noticeText: string;
  /** The Message-ID of the mail that bounced or was complained about, as far as the report tells. */
  originalMessageId: string | undefined;
}

function report(ctx: Context, r: { address: string; kind: FeedbackKind; status?: string | undefined; diagnostic?: string | undefined; at?: number | undefined; suffix: boolean }): FeedbackReport {
  const messageId = ctx.originalMessageId;
  return {
    source: 'mailbox',
    // One mail can report several recipients: each is its own report, and re-reading the mail repeats them.
    reportId: r.suffix ? `${ctx.reportId}#${r.address}` : ctx.reportId,
    messageRef: { ...(messageId ? { messageId } : {}), ...(ctx.verpToken ? { verpToken: ctx.verpToken } : {}) },
    address: r.address,
    kind: r.kind,
    ...(r.status ? { diagnosticCode: r.status } : {}),
    ...(r.diagnostic ? { diagnosticText: r.diagnostic.slice(0, 1000) } : {}),
    occurredAt: r.at ?? ctx.occurredAt,
    raw: ctx.raw,
  };
}

/** Feedback loops that hide the reader's address write `redacted@…` or a run of x's or stars in its place. */
function unredacted(address: string | undefined): string | undefined {
  const local = address?.split('@')[0] ?? '';
  return address && !/^(redacted|[x*]+)$/i.test(local) ? address : undefined;
}

function readArf(ctx: Context, part: MimePart): MailVerdict {
  const fields = parseFeedbackReport(partText(part));
  if (!isComplaint(fields.feedbackType)) return { outcome: 'ignored', reason: `feedback report of type ${fields.feedbackType}` };
  const original = originalHeaders(ctx.parts, ctx.noticeText) ?? [];
  // Some loops redact the recipient in the returned headers; the Message-ID still finds the delivery.
  const address = fields.originalRecipient ?? unredacted(addressOf(headerValue(original, 'to'))) ?? '';
  if (!address && !ctx.originalMessageId && !ctx.verpToken) return { outcome: 'unparsed', reason: 'a complaint that names neither the recipient nor the message' };
  return { outcome: 'reports', format: 'arf', reports: [report(ctx, { address, kind: 'complaint', at: fields.arrivalAt, suffix: false })] };
}

function readDsn(ctx: Context, part: MimePart): MailVerdict {
  const status = parseDeliveryStatus(partText(part));
  if (status.recipients.length === 0) return { outcome: 'unparsed', reason: 'a delivery status report with no recipient' };
  const reports = status.recipients.flatMap((r) => {
    const kind = bounceKind(r);
    if (!kind) return [];
    return [report(ctx, { address: r.address, kind, status: r.status, diagnostic: r.diagnostic, at: r.lastAttemptAt, suffix: status.recipients.length > 1 })];
  });
  if (reports.length === 0) {
    const actions = [...new Set(status.recipients.map((r) => r.action || 'no action'))].join(', ');
    return { outcome: 'ignored', reason: `delivery status notice (${actions})` };
  }
  return { outcome: 'reports', format: 'dsn', reports };
}

function readText(ctx: Context): MailVerdict {
  const result = readTextBounce(ctx.root.headers, ctx.noticeText);
  if (result.kind === 'delayed') return { outcome: 'ignored', reason: 'delay notice' };
  if (result.kind === 'unreadable') return { outcome: 'unparsed', reason: result.reason };
  const reports = result.recipients.map((r) => {
    // Without a code, only words like "permanent error" make it hard; an unclear notice is a soft strike.
    const status = r.status ?? statusFromReplyCode(r.diagnostic);
    const kind = status ? bounceKind({ action: 'failed', status, diagnostic: r.diagnostic }) : result.permanent ? 'hard_bounce' : 'soft_bounce';
    return report(ctx, { address: r.address, kind: kind ?? 'soft_bounce', status: r.status, diagnostic: r.diagnostic, suffix: result.recipients.length > 1 });
  });
  return { outcome: 'reports', format: 'text', reports };
}

/** A bounce's notice is a few kilobytes; beyond this it is not read (the mail is kept whole anyway). */
const NOTICE_LIMIT = 256 * 1024;

/** The human-readable text of the report (its text/plain parts, else text/html stripped of tags). */
function noticeTextOf(parts: MimePart[]): string {
  const plain = parts.filter((p) => p.type === 'text/plain' && !/attachment/i.test(headerValue(p.headers, 'content-disposition') ?? ''));
  if (plain.length > 0) return plain.map(partText).join('\n').slice(0, NOTICE_LIMIT);
  return parts
    .filter((p) => p.type === 'text/html')
    .map((p) => partText(p).slice(0, NOTICE_LIMIT))
    // Bounded tag patterns: an unclosed "<" must not make each later "<" scan to the end.
    .map((html) => html.replace(/<(br|p|div|tr)\b[^<>]{0,2000}>/gi, '\n').replace(/<[^<>]{0,2000}>/g, ' ').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&'))
    .join('\n')
    .slice(0, NOTICE_LIMIT);
}

/** The subject Gazette's List-Unsubscribe mailto asks for (src/sending/message.ts): `unsubscribe <token>`. */
const UNSUBSCRIBE_SUBJECT = /^\s*unsubscribe\s+([A-Za-z0-9_-]{16,200})\s*$/i;

function unsubscribeRequest(ctx: Context): MailVerdict | undefined {
  const subject = decodeWords(headerValue(ctx.root.headers, 'subject') ?? '').slice(0, 300);
  const token = UNSUBSCRIBE_SUBJECT.exec(subject)?.[1];
  if (!token) return undefined;
  return {
    outcome: 'unsubscribe',
    token,
    report: { source: 'mailbox', reportId: ctx.reportId, messageRef: {}, kind: 'unsubscribe', occurredAt: ctx.occurredAt, raw: ctx.raw },
  };
}

export function readBounceMail(raw: Buffer, options: ReadOptions): MailVerdict {
  const root = parseMessage(raw);
  const parts = reportParts(root);
  const ownId = messageIdOf(headerValue(root.headers, 'message-id'));
  const ctx: Context = {
    root,
    parts,
    raw: raw.subarray(0, RAW_LIMIT).toString('utf8'),
    reportId: ownId ?? `sha256:${createHash('sha256').update(raw).digest('hex')}`,
    verpToken: options.verp ? verpTokenIn(root.headers, options.verp) : undefined,
    occurredAt: dateOf(headerValue(root.headers, 'date')) ?? options.now,
    noticeText: '',
    originalMessageId: undefined,
  };
  ctx.noticeText = noticeTextOf(parts);
  ctx.originalMessageId = originalMessageId(root, parts, ctx.noticeText);
  const arf = parts.find((p) => p.type === 'message/feedback-report');
  if (arf) return readArf(ctx, arf);
  const dsn = parts.find((p) => DSN_TYPES.has(p.type));
  if (dsn) return readDsn(ctx, dsn);
  const request = unsubscribeRequest(ctx);
  if (request) return request;
  if (looksLikeBounce(root.headers)) return readText(ctx);
  if (isAutoReply(root.headers)) return { outcome: 'ignored', reason: 'auto-reply' };
  return { outcome: 'unparsed', reason: 'neither a bounce nor a complaint' };
}
