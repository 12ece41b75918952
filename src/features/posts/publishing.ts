import { convert } from 'html-to-text';
import type { Config } from '../../config.js';
import { toBool } from '../../db/codec.js';
import type { Db } from '../../db/database.js';
import type { NewsletterRow } from '../../db/tables/newsletters.js';
import type { PostRow } from '../../db/tables/posts.js';
import { NotFoundError } from '../../lib/errors.js';
import { escapeHtml, parseMerge, renderMerge, type MergeValues } from '../../lib/merge.js';
import { publicUrls } from '../../lib/urls.js';
import { findNewsletterByOldSlug, findNewsletterBySlug } from '../newsletters/repository.js';
import { SLUG_PATTERN } from '../newsletters/schemas.js';
import { renderPost } from './email.js';
import { findPostBySlug, listSentPosts, PUBLISHED_STATUSES } from './repository.js';
import { findReaderOfMessage } from './paywall-repository.js';
import { parseReaderAccess, readerAccessSignature, splitPaywall, webMarkdown } from '../../domain/paywall.js';
import { constantTimeEqual } from '../../lib/tokens.js';

/**
 * What readers see on the web: the archive copy of a post and the RSS feed. Neither has a reader in
 * mind, so merge fields get neutral values (a name's default, the newsletter's home instead of personal
 * links) and nothing subscriber-specific can leak into a public page.
 */

export const FEED_SIZE = 20;

export interface ArchivePage {
  newsletter: NewsletterRow;
  post: PostRow;
  subject: string;
  bodyHtml: string;
  description: string;
  canonicalUrl: string;
  homeUrl: string;
  feedUrl: string | undefined;
  publishedAt: number;
  /** The first http(s) image of the post, for link previews (og:image). */
  image: string | undefined;
  /** Private archives still serve "view in browser" links, but ask search engines to stay away. */
  indexable: boolean;
}

export function neutralValues(newsletter: Pick<NewsletterRow, 'name'>, post: Pick<PostRow, 'subject'>, webUrl: string, homeUrl: string): MergeValues {
  return {
    subscriber: { name: '', email: '', attributes: {} },
    newsletter: { name: newsletter.name },
    post: { subject: post.subject },
    web_url: webUrl,
    unsubscribe_url: homeUrl,
    preferences_url: homeUrl,
  };
}

function summary(html: string, max = 200): string {
  const text = convert(html, { wordwrap: false, selectors: [{ selector: 'a', options: { ignoreHref: true } }, { selector: 'img', format: 'skip' }] })
    .replace(/\s+/g, ' ')
    .trim();
  return text.length > max ? `${text.slice(0, max - 1).replace(/\s+\S*$/, '')}…` : text;
}

/** `full`: the part below a paywall is shown too (a paying reader's signed link); the feed never has it. */
async function webVersion(newsletter: NewsletterRow, post: PostRow, urls: ReturnType<typeof publicUrls>, full = false) {
  const canonicalUrl = urls.archivePost(newsletter.slug, post.slug);
  const homeUrl = urls.home(newsletter.slug);
  const rendered = await renderPost({ ...post, body: webMarkdown(post.body, full, `${homeUrl}/paid`) }, newsletter);
  const values = neutralValues(newsletter, post, canonicalUrl, homeUrl);
  const fill = (s: string, escape?: (s: string) => string) => renderMerge(parseMerge(s).segments, values, escape);
  const bodyHtml = fill(rendered.bodyHtml, escapeHtml);
  const subject = fill(rendered.subject);
  const description = fill(post.preheader).trim() || summary(bodyHtml);
  const image = rendered.inventory.images.map((i) => i.src).find((src) => /^https?:\/\//i.test(src));
  return { canonicalUrl, homeUrl, bodyHtml, subject, description, image };
}

/** Whether `access` is a valid signed link of a reader of this post who has paid access now. */
async function paysForPost(db: Db, post: PostRow, access: string | undefined): Promise<boolean> {
  const parsed = parseReaderAccess(access);
  if (!parsed || splitPaywall(post.body).paid === null) return false;
  const reader = await findReaderOfMessage(db, parsed.messageId);
  if (!reader || reader.post_id !== post.id) return false;
  return constantTimeEqual(parsed.signature, readerAccessSignature(parsed.messageId, reader.token)) && Number(reader.paid_access) === 1 && reader.status === 'active';
}

export function createPublishingService(deps: { db: Db; config: Config }) {
  const { db, config } = deps;
  const urls = publicUrls(config.baseUrl);

  return {
    /** `access`: the signed query of a reader's link from the email, which unlocks a paywall for a paying reader. */
    async archivePage(newsletterSlug: string, postSlug: string, access?: string): Promise<ArchivePage> {
      const newsletter = await findNewsletterBySlug(db, newsletterSlug);
      const post = newsletter ? await findPostBySlug(db, newsletter.id, postSlug) : undefined;
      if (!newsletter || !post || !PUBLISHED_STATUSES.includes(post.status)) {
        throw new NotFoundError('There is no post at this address. It may not have been published yet.');
      }
      const archivePublic = toBool(newsletter.archive_public);
      const web = await webVersion(newsletter, post, urls, await paysForPost(db, post, access));
      return {
        newsletter,
        post,
        ...web,
        feedUrl: archivePublic ? urls.feed(newsletter.slug) : undefined,
        publishedAt: Number(post.sent_at ?? post.started_at ?? post.updated_at),
        indexable: archivePublic,
      };
    },

    /** The current slug of the newsletter `slug` named before a rename; undefined when it never did. */
    async renamedSlug(slug: string): Promise<string | undefined> {
      return SLUG_PATTERN.test(slug) ? (await findNewsletterByOldSlug(db, slug))?.slug : undefined;
    },

    /** RSS 2.0 of the latest sent posts with full content; only for newsletters with a public archive. */
    async feed(newsletterSlug: string): Promise<string> {
      const newsletter = await findNewsletterBySlug(db, newsletterSlug);
      if (!newsletter || !toBool(newsletter.archive_public)) throw new NotFoundError('This newsletter has no public feed.');
      const posts = await listSentPosts(db, newsletter.id, FEED_SIZE);
      const items: string[] = [];
      for (const post of posts) {
        const web = await webVersion(newsletter, post, urls);
        items.push(
          [
            '    <item>',
            `      <title>${xml(web.subject || '(untitled)')}</title>`,
            `      <link>${xml(web.canonicalUrl)}</link>`,
            `      <guid isPermaLink="true">${xml(web.canonicalUrl)}</guid>`,
            `      <pubDate>${new Date(Number(post.sent_at)).toUTCString()}</pubDate>`,
            `      <description>${xml(web.description)}</description>`,
            `      <content:encoded>${xml(web.bodyHtml)}</content:encoded>`,
            '    </item>',
          ].join('\n'),
        );
      }
      const homeUrl = urls.home(newsletter.slug);
      const built = posts[0]?.sent_at ? new Date(Number(posts[0].sent_at)) : new Date(Number(newsletter.updated_at));
      return [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:content="http://purl.org/rss/1.0/modules/content/">',
        '  <channel>',
        `    <title>${xml(newsletter.name)}</title>`,
        `    <link>${xml(homeUrl)}</link>`,
        `    <description>${xml(newsletter.description || `The latest issues of ${newsletter.name}.`)}</description>`,
        `    <atom:link href="${xml(urls.feed(newsletter.slug))}" rel="self" type="application/rss+xml"/>`,
        `    <lastBuildDate>${built.toUTCString()}</lastBuildDate>`,
        '    <generator>Gazette</generator>',
        ...items,
        '  </channel>',
        '</rss>',
        '',
      ].join('\n');
    },
  };
}

export type PublishingService = ReturnType<typeof createPublishingService>;

/** Text for XML: escaped, with the characters XML 1.0 forbids removed (they would make the feed invalid). */
export function xml(text: string): string {
  return text
    .replace(/[^\u0009\u000A\u000D\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&apos;'));
}
