import { addressOf, findStatus } from './dsn.js';
import { decodeWords, headerValue, type HeaderField } from './mime.js';

/**
 * Bounces without a `message/delivery-status` part: Exim's "Mail delivery failed", qmail's "failure
 * notice", hMailServer's and old Exchange's plain-text NDRs. They share a shape: a notice naming the
 * failed addresses, each followed by the remote server's answer, then a marker line and a copy of the
 * original message. These are heuristics over that shape, kept narrow: mail they cannot read is left for
 * a human ("unparsed"), never guessed into a suppression.
 */

export interface TextBounceRecipient {
  address: string;
  /** An enhanced status code written in the notice (a bare SMTP reply code is left in the diagnostic). */
  status?: string;
  diagnostic?: string;
}

export type TextBounce =
  | { kind: 'failed'; recipients: TextBounceRecipient[]; permanent: boolean | undefined }
  | { kind: 'delayed' }
  | { kind: 'unreadable'; reason: string };

const DAEMON_LOCAL = /^(mailer-daemon|mailerdaemon|mail-daemon|postmaster|mailer_daemon)$/i;
const BOUNCE_SUBJECT =
  /(undeliver|undelivered mail|delivery (status notification|failure|has failed|failed)|returned mail|mail delivery failed|failure notice|could not be delivered|non.?delivery|not delivered|delivery notification|nicht zustellbar|non remis)/i;
const DELAY_SUBJECT = /(delay|warning: message .* delayed|still being retried|will be retried)/i;
const DELAY_TEXT = /(this is a temporary error|will (continue to )?(re)?try|still trying|has been delayed|delivery (is|has been) delayed|not yet been delivered)/i;
const PERMANENT_TEXT = /(permanent (error|failure)|given up|giving up|could not be delivered|couldn'?t be delivered|does not exist|user unknown|no such user)/i;
/**
 * Words of the separator line after which MTAs paste the original message (or its headers), e.g. Exim's
 * "------ This is a copy of the message, including all the headers. ------". The line must start with a
 * run of - = or _, so prose such as Sendmail's "The original message was received at…" is no marker.
 */
const ORIGINAL_MARKER = /(copy of the (original )?message|original message|below this line|message headers|returned message|undelivered message|headers of the (original )?message)/i;
/** Lines longer than this are never a marker or an address line, and are not matched at all. */
const MAX_LINE = 300;

/** The From address and display text of a message. */
function fromOf(headers: HeaderField[]): { address: string | undefined; text: string } {
  const text = decodeWords(headerValue(headers, 'from') ?? '').slice(0, 1000);
  return { address: addressOf(text), text };
}

/** Whether the message presents itself as a non-delivery report (by sender, header or subject). */
export function looksLikeBounce(headers: HeaderField[]): boolean {
  const from = fromOf(headers);
  const local = from.address?.split('@')[0] ?? '';
  if (DAEMON_LOCAL.test(local) || /mail delivery (system|subsystem)/i.test(from.text)) return true;
  if (headerValue(headers, 'x-failed-recipients')) return true;
  return BOUNCE_SUBJECT.test(decodeWords(headerValue(headers, 'subject') ?? '').slice(0, 1000));
}

/** The notice part of a text bounce: the text before the copy of the original. */
export function noticeOf(text: string): { notice: string; original: string | undefined } {
  let offset = 0;
  for (const line of text.split('\n')) {
    if (line.length <= MAX_LINE && /^\s*[-=_]{2,}/.test(line) && ORIGINAL_MARKER.test(line)) {
      return { notice: text.slice(0, offset), original: text.slice(offset + line.length + 1).replace(/^\s*\n/, '') };
    }
    offset += line.length + 1;
  }
  return { notice: text, original: undefined };
}

/**
 * A line that is a failed address and nothing else: `  gone@example.org` (Exim, hMailServer),
 * `<gone@example.org>:` (qmail), `gone@example.org on 07/12/2026 10:00` (old Exchange).
 */
const ADDRESS_LINE = /^[ \t]*<?([^\s<>@"]+@[a-z0-9.-]+\.[a-z]{2,})>?:?(?:[ \t]+on[ \t].*)?[ \t]*$/im;

function recipientsInNotice(notice: string, exclude: Set<string>): TextBounceRecipient[] {
  const lines = notice.replace(/\r\n/g, '\n').split('\n');
  const found: Array<{ address: string; line: number }> = [];
  lines.forEach((line, i) => {
    const m = line.length <= MAX_LINE ? ADDRESS_LINE.exec(line) : null;
    const address = m?.[1]?.toLowerCase();
    if (address && !exclude.has(address) && !found.some((f) => f.address === address)) found.push({ address, line: i });
  });
  return found.map((f, k) => {
    // The remote answer about an address follows it, up to the next listed address.
    const chunk = lines.slice(f.line + 1, found[k + 1]?.line ?? lines.length).join('\n');
    return withDiagnostic(f.address, chunk);
  });
}

function withDiagnostic(address: string, chunk: string): TextBounceRecipient {
  const status = findStatus(chunk);
  const answer = /((?:[45]\d\d)[ -][^\n]*)/.exec(chunk)?.[1]?.trim();
  return { address, ...(status ? { status } : {}), ...(answer ? { diagnostic: answer.slice(0, 500) } : {}) };
}

/**
 * Reads a plain-text bounce. `text` is the decoded text of the message's notice part(s); `headers` are
 * the bounce's own headers (X-Failed-Recipients, From, To, Subject).
 */
export function readTextBounce(headers: HeaderField[], text: string): TextBounce {
  const subject = decodeWords(headerValue(headers, 'subject') ?? '').slice(0, 1000);
  const { notice } = noticeOf(text);
  if (DELAY_SUBJECT.test(subject) || (DELAY_TEXT.test(notice) && !PERMANENT_TEXT.test(notice))) return { kind: 'delayed' };

  // Addresses of the bounce's own envelope are never the failed recipient.
  const exclude = new Set(
    ['from', 'to', 'delivered-to', 'x-original-to', 'return-path', 'sender']
      .map((h) => addressOf(headerValue(headers, h)))
      .filter((a): a is string => a !== undefined),
  );
  const listed = (headerValue(headers, 'x-failed-recipients') ?? '')
    .split(',')
    .map((a) => addressOf(a))
    .filter((a): a is string => a !== undefined);
  let recipients = recipientsInNotice(notice, exclude);
  if (listed.length > 0) {
    recipients = listed.map((address) => recipients.find((r) => r.address === address) ?? withDiagnostic(address, noticeAround(notice, address)));
  }
  if (recipients.length === 0) return { kind: 'unreadable', reason: 'a bounce that names no failed address' };
  return { kind: 'failed', recipients, permanent: PERMANENT_TEXT.test(notice) ? true : undefined };
}

/** The few lines after the first mention of `address` in the notice. */
function noticeAround(notice: string, address: string): string {
  const at = notice.toLowerCase().indexOf(address);
  return at < 0 ? notice : notice.slice(at + address.length, at + address.length + 600);
}
