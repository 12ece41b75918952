import { Marked } from 'marked';
import sanitizeHtml from 'sanitize-html';

/**
 * Markdown → HTML that is safe to put in an email, a web page and an admin preview. marked passes raw
 * HTML through, so its output is never trusted: an allow-list sanitiser keeps only formatting, links
 * and images, with http(s)/mailto links and http(s) images. Scripts, iframes, forms, styles, event
 * handlers and javascript:/data: URLs never survive.
 */

const marked = new Marked({ gfm: true, breaks: false, async: false });

const ALLOWED_TAGS = [
  'p', 'br', 'hr', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'blockquote', 'ul', 'ol', 'li',
  'strong', 'em', 'b', 'i', 'u', 's', 'del', 'ins', 'mark', 'small', 'sub', 'sup', 'abbr',
  'code', 'pre', 'kbd', 'a', 'img', 'figure', 'figcaption',
  'table', 'thead', 'tbody', 'tfoot', 'tr', 'th', 'td', 'caption', 'dl', 'dt', 'dd',
];

/** What the body links to and shows, as written (before the sanitiser dropped anything): for the checks. */
export interface BodyInventory {
  links: string[];
  images: Array<{ src: string; alt: string | undefined }>;
}

export interface RenderedBody extends BodyInventory {
  html: string;
}

export function renderMarkdown(markdown: string): RenderedBody {
  const links: string[] = [];
  const images: BodyInventory['images'] = [];
  const raw = marked.parse(markdown, { async: false });
  const html = sanitizeHtml(raw, {
    allowedTags: ALLOWED_TAGS,
    allowedAttributes: {
      // data-gz-notrack keeps a link out of click tracking (src/domain/tracking.ts).
      a: ['href', 'title', 'data-gz-notrack'],
      img: ['src', 'alt', 'title', 'width', 'height'],
      ol: ['start'],
      th: ['align', 'colspan', 'rowspan', 'scope'],
      td: ['align', 'colspan', 'rowspan'],
      code: ['class'],
      abbr: ['title'],
    },
    allowedClasses: { code: [/^language-[\w-]+$/] },
    allowedSchemes: ['http', 'https', 'mailto'],
    allowedSchemesByTag: { img: ['http', 'https'] },
    allowProtocolRelative: false,
    disallowedTagsMode: 'discard',
    // Also drop what is inside these, not just the tags themselves.
    nonTextTags: ['script', 'style', 'textarea', 'option', 'noscript', 'iframe', 'object', 'embed', 'svg', 'math', 'template', 'title'],
    transformTags: {
      a: (tagName, attribs) => {
        if (attribs.href !== undefined) links.push(attribs.href);
        return { tagName, attribs };
      },
      img: (tagName, attribs) => {
        images.push({ src: attribs.src ?? '', alt: attribs.alt });
        // Without alt, screen readers read out the file name; an empty alt at least marks it decorative.
        return { tagName, attribs: { ...attribs, alt: attribs.alt ?? '' } };
      },
    },
  });
  return { html, links, images };
}
