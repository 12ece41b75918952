import { createHash } from 'node:crypto';
import { Eta } from 'eta';
import type { NewsletterRow } from '../../db/tables/newsletters.js';
import type { PostRow } from '../../db/tables/posts.js';
import { VIEWS_DIR } from '../../lib/paths.js';
import { brandOf, SANS_STACK, type DesignSource } from '../design/themes.js';
import type { PostContent, PostContentRenderer } from '../../sending/content.js';
import { createMergeGuard } from './merge-guard.js';
import { renderMarkdown, type BodyInventory } from './markdown.js';
import { emailMarkdown, wholeMarkdown } from '../../domain/paywall.js';

/**
 * The one email template. A post is rendered here once (Markdown → sanitised HTML → template → CSS
 * inlined, plus a plain-text alternative); merge tags stay in as `{{ … }}` for the sending engine to
 * fill in per recipient. Nothing here reads the environment or the network: juice's plain `juice()`
 * never fetches resources (only `juiceResources` would), and marked/sanitize-html are pure.
 */

const eta = new Eta({ views: VIEWS_DIR, autoEscape: true, cache: true });

/**
 * juice and html-to-text, loaded on first use: they are a third of the server's start-up time otherwise.
 * The server warms them once it is listening (warmEmailRenderer), so the first send or preview does not
 * hold up every request while ~200 ms of modules load.
 */
const rendererModules = () => Promise.all([import('juice'), import('html-to-text')]);

export function warmEmailRenderer(): Promise<void> {
  return rendererModules().then(() => undefined);
}

export interface RenderedPost extends PostContent {
  /** The sanitised body on its own (merge tags in place): for the web archive and the feed. */
  bodyHtml: string;
  inventory: BodyInventory;
}

type PostInput = Pick<PostRow, 'subject' | 'preheader' | 'body'>;
type NewsletterInput = Pick<NewsletterRow, 'name' | 'postal_address'> & DesignSource;

/** The newsletter's design as the render reads it: part of the cache key, so a design change re-renders. */
const designKey = (n: NewsletterInput) => [n.theme, n.accent_color, n.palette, n.font, n.footer_text, n.email_css, n.logo_file, n.logo_width, n.logo_height];

/** Renders kept, by a hash of everything a render reads; the oldest goes first. */
const RENDERS_KEPT = 32;
const renders = new Map<string, Promise<RenderedPost>>();

/**
 * The post rendered for email and the web, in the newsletter's design (`baseUrl` makes its logo's URL
 * absolute, as a mail needs). A render is synchronous work of 20–90 ms (juice above all), and
 * the same post is rendered again and again: for each archive page view, the review page, the send. So
 * renders are kept by their inputs (the result depends on nothing else) and shared, frozen; an edit
 * changes the key. A failed render is not kept.
 */
export function renderPost(post: PostInput, newsletter: NewsletterInput, baseUrl = ''): Promise<RenderedPost> {
  const inputs = [post.subject, post.preheader, post.body, newsletter.name, newsletter.postal_address, ...designKey(newsletter), baseUrl];
  const key = createHash('sha256').update(JSON.stringify(inputs)).digest('base64');
  const kept = renders.get(key);
  if (kept) {
    renders.delete(key);
    renders.set(key, kept);
    return kept;
  }
  const rendering = render(post, newsletter, baseUrl).then(freeze);
  renders.set(key, rendering);
  if (renders.size > RENDERS_KEPT) renders.delete(renders.keys().next().value!);
  rendering.catch(() => {
    if (renders.get(key) === rendering) renders.delete(key);
  });
  return rendering;
}

function freeze(r: RenderedPost): RenderedPost {
  Object.freeze(r.inventory.links);
  for (const image of r.inventory.images) Object.freeze(image);
  Object.freeze(r.inventory.images);
  Object.freeze(r.inventory);
  return Object.freeze(r);
}

async function render(post: PostInput, newsletter: NewsletterInput, baseUrl: string): Promise<RenderedPost> {
  const guard = createMergeGuard();
  const body = renderMarkdown(guard.protect(emailMarkdown(post.body)));
  const subject = guard.protect(post.subject);
  const links = {
    web: guard.protect('{{ web_url }}'),
    preferences: guard.protect('{{ preferences_url }}'),
    unsubscribe: guard.protect('{{ unsubscribe_url }}'),
  };
  const postalLines = newsletter.postal_address.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  // Without the server's address a logo could only be a relative URL, which no mail client can load.
  const brand = { ...brandOf(newsletter, baseUrl), ...(baseUrl ? {} : { logo: undefined }) };
  const document = eta.render('/emails/post', {
    brand,
    sans: SANS_STACK,
    subject,
    preheader: guard.protect(post.preheader),
    newsletterName: newsletter.name,
    postalAddress: postalLines.join(', '),
    bodyHtml: body.html,
    links,
  });
  const [{ default: juice }, { convert }] = await rendererModules();
  const inlined = juice(document, {
    preserveMediaQueries: true,
    preserveFontFaces: false,
    removeStyleTags: true,
    applyWidthAttributes: true,
    applyHeightAttributes: false,
    applyAttributesTableElements: true,
    inlinePseudoElements: false,
  });

  const bodyText = convert(body.html, {
    wordwrap: 78,
    selectors: [
      { selector: 'a', options: { hideLinkHrefIfSameAsText: true, linkBrackets: ['<', '>'] } },
      { selector: 'img', format: 'skip' },
      { selector: 'h1', options: { uppercase: false } },
      { selector: 'h2', options: { uppercase: false } },
      { selector: 'h3', options: { uppercase: false } },
      { selector: 'table', format: 'dataTable', options: { uppercaseHeaderCells: false } },
    ],
  });
  // No underline under the subject: its length changes once merge fields are filled in.
  const text = [
    newsletter.name,
    '',
    subject,
    '',
    bodyText.replace(/\n{3,}/g, '\n\n').trim(),
    '',
    '-- ',
    newsletter.name,
    ...(brand.footerText ? [brand.footerText] : []),
    ...postalLines,
    '',
    `View in your browser: ${links.web}`,
    `Manage preferences: ${links.preferences}`,
    `Unsubscribe: ${links.unsubscribe}`,
    '',
  ].join('\n');

  return {
    subject: guard.restoreText(post.subject.replace(/[\r\n]+/g, ' ').trim()),
    html: guard.restoreHtml(inlined),
    text: guard.restoreText(text),
    bodyHtml: guard.restoreHtml(body.html),
    inventory: {
      links: body.links.map((l) => guard.restoreText(l)),
      images: body.images.map((i) => ({ src: guard.restoreText(i.src), alt: i.alt })),
    },
  };
}

/** The sending engine's entry point (see src/sending/content.ts): compiled once per post. */
export const renderPostEmail: PostContentRenderer = postEmailRenderer('');

/**
 * The engine's renderer for a server at `baseUrl`: the newsletter's logo is linked from there. A post with
 * a paywall is rendered twice: the teaser and signed link for most readers, and the whole post for those
 * with paid access (PostContent.full); the engine picks per recipient.
 */
export function postEmailRenderer(baseUrl: string): PostContentRenderer {
  return async (post, newsletter) => {
    const { subject, html, text } = await renderPost(post, newsletter, baseUrl);
    const whole = wholeMarkdown(post.body);
    if (whole === null) return { subject, html, text };
    const full = await renderPost({ ...post, body: whole }, newsletter, baseUrl);
    return { subject, html, text, full: { html: full.html, text: full.text } };
  };
}
