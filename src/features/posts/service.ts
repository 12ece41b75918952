import type { Config } from '../../config.js';
import type { Db } from '../../db/database.js';
import { isUniqueViolation } from '../../db/errors.js';
import type { NewsletterRow } from '../../db/tables/newsletters.js';
import type { PostRow, PostStatus } from '../../db/tables/posts.js';
import type { UserRow } from '../../db/tables/users.js';
import { toJson } from '../../db/codec.js';
import { mailboxText, senderOf } from '../../domain/sender.js';
import type { Clock } from '../../lib/clock.js';
import { ConflictError, NotFoundError, ValidationError } from '../../lib/errors.js';
import { escapeHtml, parseMerge, renderMerge, type MergeValues } from '../../lib/merge.js';
import { publicUrls } from '../../lib/urls.js';
import { countAudience, parseAudience, type Audience } from '../../sending/audience-repository.js';
import type { SendingEngine, SendProgress } from '../../sending/engine.js';
import type { Mailer } from '../../sending/mailer.js';
import { schedulePost, unschedulePost } from '../../sending/post-transitions.js';
import { findNewsletterById, listNewsletters } from '../newsletters/repository.js';
import { checkPost, type PostCheck } from './checks.js';
import { renderPost, type RenderedPost } from './email.js';
import {
  EDITABLE_STATUSES, deleteDraft, findPostById, insertPost, listPosts, listTags, slugTaken, slugsLike, updatePostIn, countPostsByStatus,
} from './repository.js';
import type { PostFormInput } from './schemas.js';
import { resolveZoned } from './zoned-time.js';

/** The part of the sending engine this feature calls. */
export type PostSendingControls = Pick<SendingEngine, 'startPost' | 'progress'>;

export interface PostServiceDeps {
  db: Db;
  clock: Clock;
  config: Config;
  mailer: Mailer;
  engine: PostSendingControls;
  /** Checks that need more than the draft (the last link check's findings); added to the pre-send checks. */
  extraChecks?: (rendered: RenderedPost) => Promise<PostCheck[]>;
  /** The size of the images an email shows, where known (Gazette's own uploads). */
  imageWeight?: (srcs: string[]) => Promise<{ bytes: number; counted: number; elsewhere: number }>;
}

/** What a reader downloads to see the email: its HTML and the images it shows. */
export interface EmailWeight {
  html: number;
  images: number;
  /** Images whose size is known (and counted). */
  counted: number;
  /** Images hosted elsewhere, not counted. */
  elsewhere: number;
  total: number;
}

export interface PostReview {
  rendered: RenderedPost;
  checks: PostCheck[];
  blocking: PostCheck[];
  /** Size of the email's HTML, as Gmail counts it for clipping. */
  bytes: number;
  weight: EmailWeight;
  /** The email with merge fields filled from the writer's details, for the preview and test sends. */
  sample: { subject: string; html: string; text: string };
}

export function slugify(text: string): string {
  const slug = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/\{\{[\s\S]*?\}\}/g, ' ')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60)
    .replace(/-+$/g, '');
  return slug || 'untitled';
}

/** True while the slug is still the one derived from the subject (so it follows subject edits). */
function isDerivedSlug(slug: string, subject: string): boolean {
  const base = slugify(subject);
  return slug === base || new RegExp(`^${base}-\\d+$`).test(slug);
}

async function freeSlug(db: Db, newsletterId: number, base: string, exceptId?: number): Promise<string> {
  const taken = new Set(await slugsLike(db, newsletterId, base, exceptId));
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) if (!taken.has(`${base}-${n}`)) return `${base}-${n}`;
}

/** Inserts with a free slug; retries when a concurrent insert took the same one. */
async function insertWithSlug(db: Db, row: Omit<Parameters<typeof insertPost>[1], 'slug'>, subject: string): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await insertPost(db, { ...row, slug: await freeSlug(db, row.newsletter_id, slugify(subject)) });
    } catch (err) {
      if (!isUniqueViolation(err) || attempt >= 3) throw err;
    }
  }
}

async function weighEmail(rendered: RenderedPost, imageWeight: PostServiceDeps['imageWeight']): Promise<EmailWeight> {
  const html = Buffer.byteLength(rendered.html, 'utf8');
  const srcs = rendered.inventory.images.map((i) => i.src);
  const images = (await imageWeight?.(srcs)) ?? { bytes: 0, counted: 0, elsewhere: new Set(srcs).size };
  return { html, images: images.bytes, counted: images.counted, elsewhere: images.elsewhere, total: html + images.bytes };
}

/** Adds a block (an uploaded image's Markdown) at the end of a draft's body: the image upload form without JavaScript. */
export function postBodies(db: Db, clock: Clock) {
  return {
    async appendToBody(id: number, markdown: string): Promise<void> {
      const post = await findPostById(db, id);
      if (!post) throw new NotFoundError('That post does not exist. It may have been deleted.');
      assertEditable(post);
      const body = post.body.trimEnd() === '' ? `${markdown}\n` : `${post.body.trimEnd()}\n\n${markdown}\n`;
      if (!(await updatePostIn(db, post.id, EDITABLE_STATUSES, { body, updated_at: clock.now() }))) {
        throw new ConflictError('This post started sending; the image was not added.');
      }
    },
  };
}

function assertEditable(post: PostRow): void {
  if (!EDITABLE_STATUSES.includes(post.status)) {
    throw new ConflictError(`This post is ${post.status} and can no longer be changed.`);
  }
}

function sampleValues(urls: ReturnType<typeof publicUrls>, newsletter: NewsletterRow, post: PostRow, user: Pick<UserRow, 'name' | 'email'>): MergeValues {
  return {
    subscriber: { name: user.name, email: user.email, attributes: {} },
    newsletter: { name: newsletter.name },
    post: { subject: post.subject },
    web_url: urls.archivePost(newsletter.slug, post.slug),
    unsubscribe_url: urls.home(newsletter.slug),
    preferences_url: urls.home(newsletter.slug),
  };
}

/** The instant a writer's local date and time names in the newsletter's zone, refused unless it is in the future. */
function scheduledTime(local: string, newsletter: NewsletterRow, now: number): number {
  const time = resolveZoned(local, newsletter.time_zone);
  if (time === undefined) throw new ValidationError({ scheduled_at: 'Enter a date and time, like 2026-12-01 09:00.' });
  // A skipped time is refused rather than moved: the writer chose the hour, not us. A repeated one
  // takes its first occurrence, which the confirmation names (repeatedTimeNote).
  if (time.kind === 'skipped') {
    const { day, from, to } = time.change;
    throw new ValidationError({
      scheduled_at: `${time.time} does not exist on ${day} in ${newsletter.time_zone} (clocks go forward from ${from} to ${to}); choose ${to} or later.`,
    });
  }
  const at = time.at;
  if (at <= now) throw new ValidationError({ scheduled_at: `Choose a time in the future (times are in ${newsletter.time_zone}).` });
  return at;
}

/** Sends the filled-in sample to each recipient in turn; the message says who got it and what failed. */
async function sendTest(
  mailer: Mailer,
  sender: ReturnType<typeof senderOf>,
  sample: PostReview['sample'],
  recipients: string[],
): Promise<{ ok: boolean; message: string }> {
  const sent: string[] = [];
  try {
    for (const to of recipients) {
      await mailer.send({
        from: mailboxText(sender),
        to,
        ...(sender.replyTo ? { replyTo: sender.replyTo } : {}),
        subject: `[Test] ${sample.subject || '(no subject)'}`,
        html: sample.html,
        text: sample.text,
      });
      sent.push(to);
    }
  } catch (err) {
    const e = err as { response?: string; message?: string };
    const done = sent.length > 0 ? ` (sent to ${sent.join(', ')} before that)` : '';
    return { ok: false, message: `The test could not be sent: ${e.response ?? e.message ?? String(err)}${done}` };
  }
  const where = mailer.kind === 'dev-outbox' ? ' It is in the dev outbox.' : '';
  return { ok: true, message: `Test sent to ${sent.join(', ')}.${where}` };
}

export function createPostService(deps: PostServiceDeps) {
  const { db, clock, config, mailer } = deps;
  const urls = publicUrls(config.baseUrl);

  async function load(id: number): Promise<{ post: PostRow; newsletter: NewsletterRow }> {
    const post = Number.isSafeInteger(id) && id > 0 ? await findPostById(db, id) : undefined;
    const newsletter = post ? await findNewsletterById(db, post.newsletter_id) : undefined;
    if (!post || !newsletter) throw new NotFoundError('That post does not exist. It may have been deleted.');
    return { post, newsletter };
  }

  async function review(post: PostRow, newsletter: NewsletterRow, user: Pick<UserRow, 'name' | 'email'>): Promise<PostReview> {
    // With the server's address, as the real send renders it: the preview and test sends show the logo.
    const rendered = await renderPost(post, newsletter, config.baseUrl);
    const checks = [...checkPost(post, rendered), ...((await deps.extraChecks?.(rendered)) ?? [])];
    const values = sampleValues(urls, newsletter, post, user);
    const fill = (s: string, escape?: (s: string) => string) => renderMerge(parseMerge(s).segments, values, escape);
    return {
      rendered,
      checks,
      blocking: checks.filter((c) => c.level === 'error'),
      bytes: Buffer.byteLength(rendered.html, 'utf8'),
      weight: await weighEmail(rendered, deps.imageWeight),
      sample: { subject: fill(rendered.subject), html: fill(rendered.html, escapeHtml), text: fill(rendered.text) },
    };
  }

  /** Schedules for an instant (the API's ISO 8601 time), refused unless it is in the future. */
  async function scheduleAt(id: number, at: number, user: Pick<UserRow, 'name' | 'email'>): Promise<number> {
    const { post, newsletter } = await load(id);
    assertEditable(post);
    if (at <= clock.now()) throw new ValidationError({ scheduled_at: 'Choose a time in the future.' });
    const { blocking } = await review(post, newsletter, user);
    if (blocking.length > 0) throw new ValidationError({ scheduled_at: `Fix this first: ${blocking.map((c) => c.message).join(' ')}` });
    const ok = await schedulePost(db, post.id, at, clock.now());
    if (!ok) throw new ConflictError('This post has already started sending.');
    return at;
  }

  return {
    load,
    review,
    scheduleAt,

    newsletters: () => listNewsletters(db),
    tags: () => listTags(db),

    async list(filter: { status?: PostStatus; newsletterId?: number }) {
      const [rows, counts] = await Promise.all([listPosts(db, { ...filter, limit: 200 }), countPostsByStatus(db, filter.newsletterId)]);
      return { rows, counts };
    },

    async create(input: { newsletter_id: number; subject: string }): Promise<number> {
      const newsletter = await findNewsletterById(db, input.newsletter_id);
      if (!newsletter) throw new ValidationError({ newsletter_id: 'Choose a newsletter.' });
      const now = clock.now();
      return insertWithSlug(db, { newsletter_id: newsletter.id, subject: input.subject, created_at: now, updated_at: now }, input.subject);
    },

    /** Saves the editor's fields (explicit Save and autosave alike); returns the post as saved. */
    async save(id: number, input: PostFormInput): Promise<PostRow> {
      const { post } = await load(id);
      assertEditable(post);
      let slug = input.slug;
      if (slug === '' || (slug === post.slug && isDerivedSlug(post.slug, post.subject))) {
        slug = await freeSlug(db, post.newsletter_id, slugify(input.subject), post.id);
      } else if (await slugTaken(db, post.newsletter_id, slug, post.id)) {
        throw new ValidationError({ slug: 'Another post in this newsletter already uses this address.' });
      }
      const changes = { subject: input.subject, slug, preheader: input.preheader, body: input.body, updated_at: clock.now() };
      let saved: boolean;
      try {
        saved = await updatePostIn(db, post.id, EDITABLE_STATUSES, changes);
      } catch (err) {
        if (isUniqueViolation(err)) throw new ValidationError({ slug: 'Another post in this newsletter already uses this address.' });
        throw err;
      }
      if (!saved) throw new ConflictError('This post started sending while you were editing; your changes were not saved.');
      return { ...post, ...changes };
    },

    async duplicate(id: number): Promise<number> {
      const { post } = await load(id);
      const now = clock.now();
      const subject = post.subject ? `Copy of ${post.subject}`.slice(0, 200) : '';
      return insertWithSlug(db, 
        { newsletter_id: post.newsletter_id, subject, preheader: post.preheader, body: post.body, audience: post.audience, audience_tier: post.audience_tier, created_at: now, updated_at: now },
        subject,
      );
    },

    async remove(id: number): Promise<void> {
      const { post } = await load(id);
      if (!(await deleteDraft(db, post.id))) throw new ConflictError('Only drafts can be deleted. Unschedule the post first.');
    },

    async audience(post: PostRow): Promise<{ audience: Audience; count: number }> {
      const audience = parseAudience(post.audience, post.audience_tier);
      return { audience, count: await countAudience(db, post.newsletter_id, audience) };
    },

    async setAudience(id: number, input: { include_tags: number[]; exclude_tags: number[] }): Promise<{ audience: Audience; count: number }> {
      const { post } = await load(id);
      assertEditable(post);
      const known = new Set((await listTags(db)).map((t) => t.id));
      const audience: Audience = {
        includeTags: [...new Set(input.include_tags)].filter((t) => known.has(t)),
        excludeTags: [...new Set(input.exclude_tags)].filter((t) => known.has(t)),
      };
      if (!(await updatePostIn(db, post.id, EDITABLE_STATUSES, { audience: toJson(audience), updated_at: clock.now() }))) {
        throw new ConflictError('This post started sending; its audience can no longer change.');
      }
      return { audience, count: await countAudience(db, post.newsletter_id, { ...audience, tier: post.audience_tier }) };
    },

    /** Schedules for the writer's local date and time in the newsletter's zone (the editor's field). */
    async schedule(id: number, local: string, user: Pick<UserRow, 'name' | 'email'>): Promise<number> {
      const { newsletter } = await load(id);
      return scheduleAt(id, scheduledTime(local, newsletter, clock.now()), user);
    },

    async unschedule(id: number): Promise<void> {
      const { post } = await load(id);
      const ok = await unschedulePost(db, post.id, clock.now());
      if (!ok) throw new ConflictError('This post is not scheduled any more: it may have started sending.');
    },

    /** Hands the post to the sending engine now (also "send anyway" for a held scheduled post). */
    async sendNow(id: number, user: Pick<UserRow, 'name' | 'email'>): Promise<void> {
      const { post, newsletter } = await load(id);
      assertEditable(post);
      const { blocking } = await review(post, newsletter, user);
      if (blocking.length > 0) throw new ValidationError({ _form: `Fix this first: ${blocking.map((c) => c.message).join(' ')}` });
      await deps.engine.startPost(post.id);
    },

    /** The send's progress, for the post page once the post has left draft. */
    progress: (postId: number): Promise<SendProgress> => deps.engine.progress(postId),

    /**
     * A test send: the real email through the real mailer, to the writer or a few addresses, marked
     * "[Test]" and filled with the writer's details. It is not a delivery: nothing is recorded.
     */
    async testSend(id: number, recipients: string[], user: Pick<UserRow, 'name' | 'email'>): Promise<{ ok: boolean; message: string }> {
      const { post, newsletter } = await load(id);
      const { sample } = await review(post, newsletter, user);
      return sendTest(mailer, senderOf(newsletter, config.mailFrom), sample, recipients);
    },
  };
}

export type PostService = ReturnType<typeof createPostService>;
