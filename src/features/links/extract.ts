import sanitizeHtml from 'sanitize-html';
import { isValidEmail } from '../../lib/email.js';

/**
 * The links of a draft as readers get them: taken from the email's final HTML (body, buttons, images and
 * the template's own links), each distinct URL once. Some need no request at all: a personal link is
 * different for every reader, and mailto:/tel: links only have a syntax to get right.
 */

export type LinkKind =
  /** An http(s) address to check over the network. */
  | 'web'
  /** Made per reader (a merge tag, or Gazette's own unsubscribe/preferences/archive links): not fetched. */
  | 'personal'
  /** mailto: or tel: with a valid syntax. */
  | 'contact'
  /** Cannot work in an email: relative, another scheme, a broken mailto:. */
  | 'invalid';

export interface DraftLink {
  url: string;
  kind: LinkKind;
  /** Why an invalid link is one, or what a personal link is. */
  note?: string;
  /** How the link appears: the text of each anchor, or "image: alt" for images. */
  labels: string[];
  image: boolean;
}

/** A draft with more links than this has the rest listed as not checked. */
export const MAX_CHECKED_LINKS = 300;

/** Gazette's own per-reader paths under BASE_URL; the archive is the web version of the post itself. */
const OWN_PATHS = /^\/(unsubscribe|preferences|confirm)\/|^\/n\/[^/]+\/archive\//;
const OWN_TAGS: Record<string, string> = {
  unsubscribe_url: 'the reader’s unsubscribe link',
  preferences_url: 'the reader’s preferences link',
  web_url: 'the web version of this post',
};
const OWN_TAG = /^\{\{\s*(unsubscribe_url|preferences_url|web_url)\s*\}\}$/;

export function extractLinks(html: string, baseUrl: string): DraftLink[] {
  const found = new Map<string, DraftLink>();
  const add = (raw: string | undefined, label: string, image: boolean) => {
    const url = (raw ?? '').trim();
    const link = found.get(url) ?? { url, ...classifyLink(url, baseUrl), labels: [], image };
    link.image = link.image && image;
    const cleaned = label.replace(/\s+/g, ' ').trim().slice(0, 120);
    if (cleaned && !link.labels.includes(cleaned) && link.labels.length < 3) link.labels.push(cleaned);
    found.set(url, link);
  };
  // The sanitiser is used only as an HTML parser here (its output is thrown away): it hands over every
  // element with its decoded attributes and text.
  sanitizeHtml(html, {
    allowedTags: false,
    allowedAttributes: false,
    allowVulnerableTags: true,
    exclusiveFilter: (frame) => {
      if (frame.tag === 'a' && frame.attribs.href !== undefined) add(frame.attribs.href, frame.text, false);
      if (frame.tag === 'img' && frame.attribs.src !== undefined) add(frame.attribs.src, `image: ${frame.attribs.alt || 'no alt text'}`, true);
      return false;
    },
  });
  return [...found.values()];
}

/** What kind of link a URL is, judged from its text alone. */
export function classifyLink(url: string, baseUrl: string): Pick<DraftLink, 'kind' | 'note'> {
  if (url === '') return { kind: 'invalid', note: 'The link is empty.' };
  const own = OWN_TAGS[OWN_TAG.exec(url)?.[1] ?? ''];
  if (own) return { kind: 'personal', note: `This is ${own}, made for each reader.` };
  if (url.includes('{{')) return { kind: 'personal', note: 'Built from a merge tag, so it differs for each reader.' };
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (!scheme) return { kind: 'invalid', note: 'A relative address has no meaning in an email: use a full address starting with https://.' };
  if (scheme === 'mailto') return mailtoProblem(url) ? { kind: 'invalid', note: mailtoProblem(url) } : { kind: 'contact' };
  if (scheme === 'tel') return /^tel:\+?[\d\s().-]*\d{3}[\d\s().-]*$/i.test(decodeSafe(url)) ? { kind: 'contact' } : { kind: 'invalid', note: 'This phone link is not a phone number (use tel:+441234567890).' };
  if (scheme !== 'http' && scheme !== 'https') return { kind: 'invalid', note: `"${scheme}:" links do not work in email: use an http(s) address.` };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { kind: 'invalid', note: 'This is not a valid web address.' };
  }
  if (!parsed.hostname) return { kind: 'invalid', note: 'This web address has no host name.' };
  const base = new URL(baseUrl);
  const basePath = base.pathname.replace(/\/+$/, '');
  if (parsed.origin === base.origin && parsed.pathname.startsWith(basePath) && OWN_PATHS.test(parsed.pathname.slice(basePath.length))) {
    return { kind: 'personal', note: 'A link to one reader’s own page on this server: it is made for each reader.' };
  }
  return { kind: 'web' };
}

function mailtoProblem(url: string): string | undefined {
  const [to = ''] = decodeSafe(url.slice('mailto:'.length)).split('?');
  const addresses = to.split(',').map((a) => a.trim()).filter(Boolean);
  if (addresses.length === 0) return 'This mail link has no address.';
  const bad = addresses.find((a) => !isValidEmail(a));
  return bad ? `"${bad}" is not a valid email address.` : undefined;
}

function decodeSafe(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
