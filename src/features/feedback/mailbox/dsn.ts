import type { FeedbackKind } from '../report.js';
import { parseHeaderBlock, type HeaderField } from './mime.js';

/**
 * Delivery status notifications (RFC 3464): the `message/delivery-status` part of a
 * `multipart/report; report-type=delivery-status` mail, and how one recipient's outcome becomes a bounce
 * kind. Postfix, Gmail, Exchange/Office 365 and Sendmail all send this shape; the plain-text bounces of
 * Exim, qmail and the like are read in text-bounce.ts and classified here too.
 */

export interface DsnRecipient {
  /** Final-Recipient (else Original-Recipient) without its address type, lower-cased. */
  address: string;
  /** failed | delayed | delivered | relayed | expanded (lower case); '' when absent. */
  action: string;
  /** Enhanced status code (RFC 3463) like 5.1.1, when present. */
  status?: string;
  /** Diagnostic-Code without its type (`smtp;`). */
  diagnostic?: string;
  /** Last-Attempt-Date as epoch ms, when present and valid. */
  lastAttemptAt?: number;
}

export interface DeliveryStatus {
  reportingMta?: string;
  arrivalAt?: number;
  recipients: DsnRecipient[];
}

const ENHANCED_STATUS = /\b([245])\.(\d{1,3})\.(\d{1,3})\b/;

/** The first enhanced status code (2.x.x, 4.x.x or 5.x.x) in `text`. */
export function findStatus(text: string | undefined): string | undefined {
  const m = text ? ENHANCED_STATUS.exec(text) : null;
  return m ? `${m[1]}.${m[2]}.${m[3]}` : undefined;
}

/** `rfc822; Gone@Example.org` or `<gone@example.org>` → `gone@example.org`; undefined when there is no address. */
export function addressOf(value: string | undefined): string | undefined {
  if (!value) return undefined;
  // Capped: the address pattern backtracks on a long run of address characters.
  const typed = /^\s*[a-z0-9-]+\s*;\s*(.*)$/i.exec(value.slice(0, 1000));
  const text = (typed ? typed[1]! : value).trim();
  const m = /<?([^\s<>"(),;:]+@[^\s<>"(),;:]+?)>?(?=$|[\s,;)>])/.exec(text);
  return m ? m[1]!.replace(/\.$/, '').toLowerCase() : undefined;
}

function dateOf(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const t = Date.parse(value.slice(0, 200).replace(/\s*\([^)]*\)\s*$/, ''));
  return Number.isFinite(t) ? t : undefined;
}

function field(fields: HeaderField[], name: string): string | undefined {
  return fields.find((f) => f.name === name)?.value;
}

/** Some MTAs write a bare class (5.0.0) in Status and the real code in the remote answer: the precise one wins. */
function preciseStatus(status: string | undefined, fromDiagnostic: string | undefined): string | undefined {
  if (status && fromDiagnostic && status.endsWith('.0.0') && fromDiagnostic[0] === status[0]) return fromDiagnostic;
  return status ?? fromDiagnostic;
}

/** Reads the text of a `message/delivery-status` part: one per-message group, then one group per recipient. */
export function parseDeliveryStatus(text: string): DeliveryStatus {
  const groups = text
    .replace(/\r\n/g, '\n')
    .split(/\n[ \t]*\n/)
    .map((g) => parseHeaderBlock(g))
    .filter((g) => g.length > 0);
  const perMessage = groups[0] && !field(groups[0], 'final-recipient') ? groups.shift()! : [];
  const recipients: DsnRecipient[] = [];
  for (const g of groups) {
    const address = addressOf(field(g, 'final-recipient')) ?? addressOf(field(g, 'original-recipient'));
    if (!address) continue;
    const rawDiagnostic = field(g, 'diagnostic-code');
    const diagnostic = rawDiagnostic?.replace(/^\s*[a-z-]+\s*;\s*/i, '').trim();
    const status = preciseStatus(findStatus(field(g, 'status')), findStatus(diagnostic));
    const lastAttemptAt = dateOf(field(g, 'last-attempt-date'));
    recipients.push({
      address,
      action: (field(g, 'action') ?? '').trim().toLowerCase().split(/\s/)[0] ?? '',
      ...(status ? { status } : {}),
      ...(diagnostic ? { diagnostic } : {}),
      ...(lastAttemptAt !== undefined ? { lastAttemptAt } : {}),
    });
  }
  const reportingMta = field(perMessage, 'reporting-mta')?.replace(/^\s*dns\s*;\s*/i, '');
  const arrivalAt = dateOf(field(perMessage, 'arrival-date'));
  return { ...(reportingMta ? { reportingMta } : {}), ...(arrivalAt !== undefined ? { arrivalAt } : {}), recipients };
}

/**
 * Words in a 5.x.x diagnostic that blame the sender or the content, not the address: the address still
 * works, so striking it as a hard bounce would drop a reader who did nothing wrong.
 */
const SENDER_SIDE =
  /\b(spam|junk|bulk|unsolicited|suspicious|phishing|virus|malware|blocked|block ?list(ed)?|black ?list(ed)?|banned|reputation|policy|dmarc|spf|dkim|unauthenticated|not authenticated|rate limit(ed)?|throttl\w*|too many|try again later|content rejected|message rejected|rbl|spamhaus)\b/i;
/** Words that say the address itself does not exist, which beat SENDER_SIDE (e.g. "5.7.1 … user unknown"). */
const NO_SUCH_ADDRESS =
  /\b(user unknown|unknown user|no such (user|mailbox|recipient|address)|does not exist|doesn't exist|not found|recipient ?not ?found|invalid (recipient|mailbox|address)|mailbox unavailable|account (has been )?(disabled|closed|deleted)|disabled|deactivated|inactive)\b/i;
/**
 * Enhanced codes (RFC 3463) about the message or the systems, not the address: a full mailbox (5.2.2),
 * a message too big (5.2.3, 5.3.4), a mail system problem (5.3.x), delivery time expired (5.4.7),
 * protocol trouble (5.5.x) and content (5.6.x).
 */
const NOT_THE_ADDRESS = /^5\.(2\.2|2\.3|3\.\d{1,3}|4\.7|5\.\d{1,3}|6\.\d{1,3})$/;

/**
 * The bounce kind of one recipient's outcome, or undefined when it is no bounce (delivered, relayed,
 * expanded, or only delayed: a delay notice is not a strike, the final outcome follows later).
 *
 * - Action failed with 4.x.x is soft (a relay gave up after its queue lifetime).
 * - Action failed with 5.x.x is hard when the diagnostic says the address does not exist; otherwise
 *   soft when the code or the diagnostic blames the message or the sender (NOT_THE_ADDRESS,
 *   SENDER_SIDE: the address is fine); otherwise hard (5.1.x bad address, 5.4.4 no such domain, …).
 * - Action failed with no status uses the SMTP reply code of the diagnostic, else hard: RFC 3464 says
 *   failed means the message could not be delivered and no further attempts are made.
 */
export function bounceKind(r: Pick<DsnRecipient, 'action' | 'status' | 'diagnostic'>): Extract<FeedbackKind, 'hard_bounce' | 'soft_bounce'> | undefined {
  if (r.action !== 'failed' && r.action !== '') return undefined;
  const status = r.status ?? statusFromReplyCode(r.diagnostic);
  if (r.action === '' && !status) return undefined;
  if (!status) return 'hard_bounce';
  if (status.startsWith('2.')) return undefined;
  if (status.startsWith('4.')) return 'soft_bounce';
  const diagnostic = (r.diagnostic ?? '').slice(0, 2000);
  if (NO_SUCH_ADDRESS.test(diagnostic)) return 'hard_bounce';
  if (NOT_THE_ADDRESS.test(status) || SENDER_SIDE.test(diagnostic)) return 'soft_bounce';
  return 'hard_bounce';
}

/** `550 …` → 5.0.0, `452 …` → 4.0.0: the class of a bare SMTP reply code. */
export function statusFromReplyCode(text: string | undefined): string | undefined {
  const m = text ? /(?:^|[\s:;(])([45])\d\d(?=[\s-]|$)/.exec(text) : null;
  return m ? `${m[1]}.0.0` : undefined;
}
