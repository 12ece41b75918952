import { hmacBase64Url } from '../lib/tokens.js';

/**
 * A post's paywall: a line `<!-- paywall -->` in its Markdown. Everything above it is for everyone, the
 * rest for paying readers. A reader with paid access to the newsletter gets the whole post in the email
 * (wholeMarkdown); everyone else gets the part above and a personal, signed link to the rest on the web
 * (emailMarkdown), where the rest shows only to a paying reader who arrives by that link. The feed never
 * carries it.
 */
const MARKER = /^[ \t]*<!--\s*paywall\s*-->[ \t]*$/im;

export interface PaywallSplit {
  free: string;
  /** The part for paying readers; null when the post has no paywall. */
  paid: string | null;
}

export function splitPaywall(markdown: string): PaywallSplit {
  const match = MARKER.exec(markdown);
  if (!match) return { free: markdown, paid: null };
  return { free: markdown.slice(0, match.index).trimEnd(), paid: markdown.slice(match.index + match[0].length).trimStart() };
}

/** The Markdown of the email to a reader without paid access: above the paywall, then the signed link to the rest (merge fields the engine fills per reader). */
export function emailMarkdown(markdown: string): string {
  const { free, paid } = splitPaywall(markdown);
  if (paid === null) return markdown;
  return `${free}\n\n---\n\n**This post continues for paying subscribers:** [read the rest on the web]({{ web_url }}{{ reader_access }})\n`;
}

/** The whole post for a paying reader, without the marker; null when the post has no paywall. */
export function wholeMarkdown(markdown: string): string | null {
  const { free, paid } = splitPaywall(markdown);
  return paid === null ? null : `${free}\n\n${paid}`;
}

/** The Markdown of the web page: whole (without the marker) for a paying reader, else the free part and a way to pay. */
export function webMarkdown(markdown: string, full: boolean, paidUrl: string): string {
  const { free, paid } = splitPaywall(markdown);
  if (paid === null) return markdown;
  if (full) return `${free}\n\n${paid}`;
  return `${free}\n\n---\n\n**The rest of this post is for paying subscribers.** [Become one](${paidUrl}), or open the link in your email if you already are.\n`;
}

/**
 * The query a reader's archive link carries: the message id of the email they got (it names the reader and
 * the post) and an HMAC of it keyed by the reader's own secret token, so the link cannot be made up.
 */
export function readerAccessQuery(messageId: string, subscriberToken: string): string {
  return `?access=${encodeURIComponent(`${messageId}~${readerAccessSignature(messageId, subscriberToken)}`)}`;
}

export function readerAccessSignature(messageId: string, subscriberToken: string): string {
  return hmacBase64Url(subscriberToken, `archive-access:${messageId}`);
}

/** The message id and signature an `access` value carries; undefined when it is malformed. */
export function parseReaderAccess(access: string | undefined): { messageId: string; signature: string } | undefined {
  if (!access || access.length > 400) return undefined;
  const cut = access.lastIndexOf('~');
  if (cut <= 0) return undefined;
  return { messageId: access.slice(0, cut), signature: access.slice(cut + 1) };
}
