import { parseMerge } from '../../lib/merge.js';
import type { BodyInventory } from './markdown.js';

/**
 * Pre-send checks: what a careful editor would catch before pressing Send. Errors block sending
 * (there is nothing to send); warnings are shown and left to the writer.
 */
export interface PostCheck {
  level: 'error' | 'warning';
  message: string;
  /** Set on the last link check's findings, so the send page can ask "send anyway?" about them. */
  source?: 'links';
}

/** Gmail hides everything after the first 102 KB of a message's HTML behind "[Message clipped]". */
export const GMAIL_CLIP_BYTES = 102 * 1024;
const CLIP_WARNING_BYTES = 90 * 1024;

const URL_TAGS = new Set(['{{ web_url }}', '{{ unsubscribe_url }}', '{{ preferences_url }}']);

export function checkPost(
  post: { subject: string; preheader: string; body: string },
  rendered: { html: string; inventory: BodyInventory },
): PostCheck[] {
  const checks: PostCheck[] = [];
  if (post.subject.trim() === '') checks.push({ level: 'error', message: 'The subject is missing.' });
  if (post.body.trim() === '') checks.push({ level: 'error', message: 'The body is empty.' });

  for (const [where, text] of [['subject', post.subject], ['preheader', post.preheader], ['body', post.body]] as const) {
    for (const problem of parseMerge(text).problems) checks.push({ level: 'warning', message: `Merge tag in the ${where}: ${problem}` });
  }

  const seen = new Set<string>();
  for (const href of rendered.inventory.links) {
    const problem = linkProblem(href);
    if (problem && !seen.has(href)) {
      seen.add(href);
      checks.push({ level: 'warning', message: `The link "${shorten(href)}" ${problem}` });
    }
  }
  for (const image of rendered.inventory.images) {
    const problem = linkProblem(image.src, true);
    if (problem) checks.push({ level: 'warning', message: `The image "${shorten(image.src)}" ${problem}` });
    // Blocking: without alt text, a reader with a screen reader or with images blocked gets nothing at all.
    if (!image.alt || image.alt.trim() === '') {
      checks.push({ level: 'error', message: `The image "${shorten(image.src)}" has no alt text (describe it for screen readers and for mail clients that block images).` });
    }
  }

  const bytes = Buffer.byteLength(rendered.html, 'utf8');
  const kb = Math.round(bytes / 1024);
  if (bytes >= GMAIL_CLIP_BYTES) {
    checks.push({ level: 'warning', message: `The email is ${kb} KB: Gmail clips messages over 102 KB, hiding the end (and the unsubscribe link).` });
  } else if (bytes >= CLIP_WARNING_BYTES) {
    checks.push({ level: 'warning', message: `The email is ${kb} KB, close to Gmail's 102 KB clipping limit.` });
  }
  return checks;
}

/** Why a link target is not one that works from an inbox, or undefined when it is fine. */
function linkProblem(target: string, image = false): string | undefined {
  const value = target.trim();
  if (value === '') return 'is empty.';
  if (URL_TAGS.has(value)) return undefined;
  if (value.includes('{{')) return 'is built from a merge tag; only web_url, unsubscribe_url and preferences_url are full addresses.';
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(value)?.[1]?.toLowerCase();
  if (!scheme) return 'is relative: it has no meaning inside an email. Use a full address starting with https://.';
  if (scheme === 'http' || scheme === 'https') {
    try {
      new URL(value);
      return undefined;
    } catch {
      return 'is not a valid address.';
    }
  }
  // mailto: is a normal thing to put in a newsletter ("reply to me"), but never for an image.
  if (scheme === 'mailto' && !image) return undefined;
  return `uses "${scheme}:", which is removed from the email. Use an http(s) address.`;
}

function shorten(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}…` : s;
}
