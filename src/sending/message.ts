import { randomBytes } from 'node:crypto';
import type { Config } from '../config.js';
import type { NewsletterRow } from '../db/tables/newsletters.js';
import type { PostRow } from '../db/tables/posts.js';
import { parseJsonObject } from '../db/codec.js';
import { senderOf, type Sender } from '../domain/sender.js';
import { escapeHtml, parseMerge, resolveField, type MergeField, type MergeValues } from '../lib/merge.js';
import { publicUrls } from '../lib/urls.js';
import { verpToken } from '../lib/verp.js';
import { personalToken } from '../domain/tracking.js';
import { readerAccessQuery } from '../domain/paywall.js';
import type { PersonalTracking, PostContent } from './content.js';
import { domainOf } from './mailer.js';
import { encodeUnstructured, formatDate, formatMailbox, headerLine, headerText, qpPiece, qpValue } from './mime.js';

/**
 * A post compiled once into the pieces of its MIME message: static headers and quoted-printable body
 * pieces are encoded here, once; per recipient only the merge values, the personal URLs, To, Date and
 * Message-ID are encoded and concatenated. No MIME library runs per message (see
 * research/performance.md); the result is checked by parsing it with a real MIME parser in the tests.
 */

export interface Recipient {
  email: string;
  name: string;
  /** JSON object text from subscribers.attributes. */
  attributes: string;
  /** subscribers.token: the key of the personal unsubscribe and preferences URLs. */
  token: string;
  /** `<…@domain>`, fixed when the audience was snapshotted and reused by every retry. */
  messageId: string;
  /** The delivery id, when the recipient consented to per-person tracking (the personal token's id). */
  trackAs?: number | null | undefined;
  /** The recipient has paid access to the newsletter: they get the template's `full` body when it has one. */
  paidAccess?: boolean | undefined;
}

export interface RenderedMessage {
  /** The subject as the recipient sees it (for listings such as the dev outbox). */
  subject: string;
  /** Header block, each line ending in CRLF, without the blank line. */
  headers: string;
  /** Everything after the blank line. */
  body: string;
}

export interface CompiledMessage {
  postId: number;
  /** MAIL FROM without VERP. */
  envelopeFrom: string;
  /** MAIL FROM for one delivery: its VERP address when the content asks for one, else envelopeFrom. */
  envelopeFor(deliveryId: number): string;
  /** The same message as plain data, for rendering in another thread (see renderMessage). */
  template: MessageTemplate;
  render(recipient: Recipient, date: number): RenderedMessage;
}

type Piece = string | MergeField;

/**
 * A compiled post as plain data (structured-cloneable): what renderMessage needs, so that a worker
 * thread can render the messages it sends from one copy of this and a small record per recipient.
 */
export interface MessageTemplate {
  baseUrl: string;
  /** Header lines that are the same for every recipient. */
  fixed: string;
  subject: Piece[];
  subjectIsStatic: boolean;
  staticSubject: string;
  postSubject: string;
  newsletterName: string;
  text: Piece[];
  html: Piece[];
  /** The post has a paywall: the whole post's body, for recipients with paid access (see PostContent.full). */
  full?: { text: Piece[]; html: Piece[] } | undefined;
  textHead: string;
  htmlHead: string;
  tail: string;
  webUrl: string;
  mailto?: string | undefined;
  needsAttributes: boolean;
  /** The post has a paywall: each reader's signed link to the rest is filled in (src/domain/paywall.ts). */
  needsReaderAccess: boolean;
  /** Set when the HTML has per-subscriber tracking URLs (see PostContent). */
  tracking?: PersonalTracking | undefined;
}

export interface CompileSettings {
  baseUrl: string;
  mailFrom: string;
  dkimDomain?: string | undefined;
  /** Address for the mailto: form of List-Unsubscribe; omitted when unset. */
  listUnsubscribeMailto?: string | undefined;
}

export function compileSettings(config: Config): CompileSettings {
  return {
    baseUrl: config.baseUrl,
    mailFrom: config.mailFrom,
    dkimDomain: config.dkim?.domain,
    listUnsubscribeMailto: config.listUnsubscribeMailto,
  };
}

/** The domain Message-IDs are minted on: the DKIM signing domain, else the From domain. */
export function messageIdDomain(newsletter: NewsletterRow, settings: CompileSettings): string {
  return settings.dkimDomain ?? domainOf(senderOf(newsletter, settings.mailFrom).address);
}

/** Static text pieces already quoted-printable; fields left for per-recipient values. */
function compileBody(template: string): Piece[] {
  const { segments } = parseMerge(template);
  const pieces: Piece[] = [];
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    if (typeof s === 'string') pieces.push(qpPiece(s, i < segments.length - 1));
    else pieces.push(s.path.length > 0 ? s : '');
  }
  return pieces.filter((p) => p !== '');
}

function usesReaderAccess(pieces: Piece[]): boolean {
  return pieces.some((p) => typeof p !== 'string' && p.path[0] === 'reader_access');
}

function usesAttributes(pieces: Piece[]): boolean {
  return pieces.some((p) => typeof p !== 'string' && p.path[0] === 'subscriber' && p.path[1] === 'attributes');
}

export function compileMessage(
  post: Pick<PostRow, 'id' | 'slug'>,
  newsletter: NewsletterRow,
  content: PostContent,
  settings: CompileSettings,
): CompiledMessage {
  const sender = senderOf(newsletter, settings.mailFrom);
  const template = compileTemplate(post, newsletter, content, settings, sender);
  const rp = content.returnPath;
  return {
    postId: post.id,
    envelopeFrom: sender.address,
    envelopeFor: rp ? (id) => `${rp.localPart}${rp.delimiter}${verpToken(id, rp.secret)}@${rp.domain}` : () => sender.address,
    template,
    render: (r, date) => renderMessage(template, r, date),
  };
}

function compileTemplate(
  post: Pick<PostRow, 'id' | 'slug'>,
  newsletter: NewsletterRow,
  content: PostContent,
  settings: CompileSettings,
  sender: Sender,
): MessageTemplate {
  const host = new URL(settings.baseUrl).hostname;
  const boundary = `=_gz_${randomBytes(12).toString('hex')}`;

  const subject = parseMerge(headerText(content.subject, 998)).segments;
  const subjectIsStatic = subject.every((s) => typeof s === 'string');
  const staticSubject = subjectIsStatic ? subject.join('') : '';
  const text = compileBody(content.text);
  const html = compileBody(content.html);
  const full = content.full && { text: compileBody(content.full.text), html: compileBody(content.full.html) };
  const bodies = full ? [text, html, full.text, full.html] : [text, html];

  let fixed = headerLine('From', formatMailbox(sender.name, sender.address));
  if (sender.replyTo) fixed += headerLine('Reply-To', sender.replyTo);
  if (subjectIsStatic) fixed += headerLine('Subject', encodeUnstructured(staticSubject));
  fixed +=
    headerLine('MIME-Version', '1.0') +
    headerLine('Content-Type', `multipart/alternative; boundary="${boundary}"`) +
    headerLine('List-Id', `${encodeListName(newsletter.name)} <${listIdLabel(newsletter.slug)}.${host}>`) +
    headerLine('List-Unsubscribe-Post', 'List-Unsubscribe=One-Click') +
    headerLine('Precedence', 'bulk') +
    headerLine('Feedback-ID', `p${post.id}:n${newsletter.id}:newsletter:gazette`);

  return {
    baseUrl: settings.baseUrl,
    fixed,
    subject,
    subjectIsStatic,
    staticSubject,
    postSubject: content.subject,
    newsletterName: newsletter.name,
    text,
    html,
    full,
    textHead: `--${boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n`,
    htmlHead: `\r\n--${boundary}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n`,
    tail: `\r\n--${boundary}--\r\n`,
    webUrl: publicUrls(settings.baseUrl).archivePost(newsletter.slug, post.slug),
    mailto: settings.listUnsubscribeMailto,
    needsAttributes: usesAttributes(subject) || bodies.some(usesAttributes),
    needsReaderAccess: bodies.some(usesReaderAccess),
    tracking: content.tracking,
  };
}

// Per thread: the URL helpers of the templates in use, and the Date header of the current second.
const urlsOf = new WeakMap<MessageTemplate, ReturnType<typeof publicUrls>>();
let dateSecond = -1;
let dateText = '';

/** What is new for each recipient: the merge values, and the header lines after the fixed ones. */
function personalise(t: MessageTemplate, r: Recipient, date: number): { values: MergeValues; subject: string; headers: string } {
  let urls = urlsOf.get(t);
  if (!urls) urlsOf.set(t, (urls = publicUrls(t.baseUrl)));
  const unsubscribeUrl = urls.unsubscribe(r.token);
  const values: MergeValues = {
    subscriber: { name: r.name, email: r.email, attributes: t.needsAttributes ? parseJsonObject(r.attributes) : {} },
    newsletter: { name: t.newsletterName },
    post: { subject: t.postSubject },
    unsubscribe_url: unsubscribeUrl,
    preferences_url: urls.preferences(r.token),
    web_url: t.webUrl,
    reader_access: t.needsReaderAccess ? readerAccessQuery(r.messageId, r.token) : '',
    tracking_id: t.tracking && r.trackAs != null ? `.${personalToken(t.tracking.key, t.tracking.postId, r.trackAs)}` : '',
  };
  const second = Math.floor(date / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = formatDate(date);
  }
  let headers = headerLine('To', formatMailbox(r.name, r.email));
  const subject = t.subjectIsStatic ? t.staticSubject : renderPlain(t.subject, values);
  if (!t.subjectIsStatic) headers += headerLine('Subject', encodeUnstructured(subject));
  const listUnsubscribe = t.mailto
    ? `<${unsubscribeUrl}>, <mailto:${t.mailto}?subject=unsubscribe%20${encodeURIComponent(r.token)}>`
    : `<${unsubscribeUrl}>`;
  headers += headerLine('Date', dateText) + headerLine('Message-ID', r.messageId) + headerLine('List-Unsubscribe', listUnsubscribe);
  return { values, subject, headers };
}

/** A merge field of a quoted-printable body part, as it is written for one recipient. */
function bodyValue(p: MergeField, values: MergeValues, html: boolean): string {
  const text = resolveField(p, values);
  return qpValue(html ? escapeHtml(text) : text);
}

/** One recipient's message: only the merge values, personal URLs, To, Date and Message-ID are new. */
export function renderMessage(t: MessageTemplate, r: Recipient, date: number): RenderedMessage {
  const { values, subject, headers } = personalise(t, r, date);
  const { text, html } = r.paidAccess && t.full ? t.full : t;
  let body = t.textHead;
  for (const p of text) body += typeof p === 'string' ? p : bodyValue(p, values, false);
  body += t.htmlHead;
  for (const p of html) body += typeof p === 'string' ? p : bodyValue(p, values, true);
  body += t.tail;
  return { subject, headers: t.fixed + headers, body };
}

/**
 * A template's static parts as bytes, made once where messages are sent (the SMTP worker): each
 * message is then one buffer of the right size with the static bytes copied in and only the
 * recipient's pieces encoded, instead of a 14 KB string joined and encoded again per message.
 */
export interface WireTemplate {
  template: MessageTemplate;
  /** Fixed header lines. */
  fixed: Buffer;
  body: WireBody;
  /** The whole post's body, for recipients with paid access (see MessageTemplate.full). */
  full?: WireBody | undefined;
}

/** The body: static pieces and merge fields, the text part's before `htmlAt`. */
interface WireBody {
  pieces: Array<Buffer | MergeField>;
  htmlAt: number;
}

function wireBody(t: MessageTemplate, text: Piece[], html: Piece[]): WireBody {
  const bytes = (p: string | MergeField) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p);
  const pieces = [bytes(`\r\n${t.textHead}`), ...text.map(bytes)];
  const htmlAt = pieces.length;
  pieces.push(bytes(t.htmlHead), ...html.map(bytes), bytes(t.tail));
  return { pieces, htmlAt };
}

export function wireTemplate(t: MessageTemplate): WireTemplate {
  const full = t.full && wireBody(t, t.full.text, t.full.html);
  return { template: t, fixed: Buffer.from(t.fixed, 'utf8'), body: wireBody(t, t.text, t.html), full };
}

/** The same bytes as `assemble(renderMessage(…))`, built without the intermediate strings. */
export function renderWire(w: WireTemplate, r: Recipient, date: number): { subject: string; raw: Buffer } {
  const { values, subject, headers } = personalise(w.template, r, date);
  const { pieces, htmlAt } = r.paidAccess && w.full ? w.full : w.body;
  const parts: Array<Buffer | string> = [w.fixed, headers];
  for (let i = 0; i < pieces.length; i++) {
    const p = pieces[i]!;
    parts.push(Buffer.isBuffer(p) ? p : bodyValue(p, values, i >= htmlAt));
  }
  let size = 0;
  for (const p of parts) size += typeof p === 'string' ? Buffer.byteLength(p, 'utf8') : p.length;
  const raw = Buffer.allocUnsafe(size);
  let at = 0;
  for (const p of parts) at += typeof p === 'string' ? raw.write(p, at, 'utf8') : p.copy(raw, at);
  return { subject, raw };
}

function renderPlain(segments: Array<string | MergeField>, values: MergeValues): string {
  let out = '';
  for (const s of segments) out += typeof s === 'string' ? s : resolveField(s, values);
  return out;
}

/** The List-Id phrase: a quoted-string, or encoded-words for non-ASCII names. */
function encodeListName(name: string): string {
  const text = headerText(name, 100);
  return /^[\x20-\x7e]*$/.test(text) ? `"${text.replace(/["\\]/g, '\\$&')}"` : encodeUnstructured(text);
}

/** A slug as a dot-atom label (slugs are already [a-z0-9-], this only guards the header syntax). */
function listIdLabel(slug: string): string {
  return slug.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 60) || 'newsletter';
}

/** Whole raw message: the optional DKIM-Signature line first. */
export function assemble(message: { headers: string; body: string }, dkimLine = ''): Buffer {
  return Buffer.from(`${dkimLine}${message.headers}\r\n${message.body}`, 'utf8');
}
