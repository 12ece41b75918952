import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { NewsletterRow } from '../../db/tables/newsletters.js';
import type { PostRow, PostStatus } from '../../db/tables/posts.js';
import { ConflictError, ValidationError } from '../../lib/errors.js';
import { echoFields, parseForm } from '../../lib/forms.js';
import { pathId } from '../../lib/params.js';
import { queryFlag, queryText } from '../../lib/query.js';
import { timesIn } from '../../lib/time-zones.js';
import { publicUrls } from '../../lib/urls.js';
import type { TypedApp } from '../../plugins/schemas.js';
import { EDITABLE_STATUSES, PUBLISHED_STATUSES } from './repository.js';
import { audienceSchema, listQuerySchema, MAX_TEST_RECIPIENTS, newPostSchema, postFormSchema, scheduleSchema, testSendSchema } from './schemas.js';
import type { PostService } from './service.js';
import { epochToZoned, formatClock, formatZoned, repeatedTimeNote } from './zoned-time.js';

/** The posts feature's own stylesheet and script (no inline script: the CSP forbids it). */
const HEAD = '<link rel="stylesheet" href="/public/posts.css">\n  <script src="/public/posts.js" defer></script>\n  <script src="/public/media.js" defer></script>';

export const STATUS_LABELS: Record<PostStatus, string> = {
  draft: 'Draft',
  scheduled: 'Scheduled',
  sending: 'Sending',
  paused: 'Paused',
  sent: 'Sent',
  cancelled: 'Cancelled',
};

const postRoute = { params: z.object({ id: pathId('That post does not exist.') }) };
const postsQuery = listQuerySchema.extend({ deleted: queryFlag() });
const savedQuery = z.object({ saved: queryFlag() });
/** The flags a redirect sets to say what just happened on the post page. */
const postPageQuery = z.object({ scheduled: queryFlag(), unscheduled: queryFlag(), started: queryFlag() });
type PostNotice = 'scheduled' | 'unscheduled' | 'started';

function postValues(post: PostRow): Record<string, string> {
  return { subject: post.subject, slug: post.slug, preheader: post.preheader, body: post.body };
}

/** A post's times as the newsletter's writer reads them. */
const times = (post: PostRow, n: NewsletterRow) => ({
  scheduled: post.scheduled_at ? formatZoned(Number(post.scheduled_at), n.time_zone) : undefined,
  sent: post.sent_at ? formatZoned(Number(post.sent_at), n.time_zone) : undefined,
  updated: formatZoned(Number(post.updated_at), n.time_zone),
});

/** "Scheduled.", naming which of the two when the time happens twice (clocks going back). */
const scheduledNotice = (post: PostRow, timeZone: string) => {
  const note = post.scheduled_at ? repeatedTimeNote(Number(post.scheduled_at), timeZone) : undefined;
  return note ? `Scheduled. ${note}` : 'Scheduled.';
};

/** The posts admin, in three groups: the list and creating, the editor, and a post's page with its actions. */
export default async function postRoutes(app: TypedApp, opts: { posts: PostService }) {
  listRoutes(app, opts.posts);
  editorRoutes(app, opts.posts);
  postPageRoutes(app, opts.posts);
}

/** The list of posts, and a new draft. */
function listRoutes(app: TypedApp, posts: PostService) {
  app.get('/admin/posts', { schema: { querystring: postsQuery } }, async (request, reply) => {
    const q = request.query;
    const filter = { status: q.status as PostStatus | undefined, newsletterId: q.newsletter };
    const [{ rows, counts }, newsletters] = await Promise.all([posts.list(filter), posts.newsletters()]);
    const deleted = q.deleted;
    return reply.page(
      'posts/index',
      {
        title: 'Posts',
        head: HEAD,
        filter,
        counts,
        statuses: STATUS_LABELS,
        newsletters,
        deleted,
        rows: rows.map((r) => ({
          ...r,
          statusLabel: STATUS_LABELS[r.status],
          when:
            r.status === 'scheduled' && r.scheduled_at
              ? `for ${formatZoned(Number(r.scheduled_at), r.time_zone)}`
              : r.sent_at
                ? `sent ${formatZoned(Number(r.sent_at), r.time_zone)}`
                : `edited ${formatZoned(Number(r.updated_at), r.time_zone)}`,
          href: EDITABLE_STATUSES.includes(r.status) ? `/admin/posts/${r.id}/edit` : `/admin/posts/${r.id}`,
        })),
      },
      { fragment: 'posts/_list' },
    );
  });

  const newPage = async (reply: FastifyReply, values: Record<string, unknown>, errors?: Record<string, string>, status = 200) =>
    reply.page('posts/new', { title: 'New post', newsletters: await posts.newsletters(), values, errors }, { status });

  app.get('/admin/posts/new', { schema: { querystring: z.object({ newsletter: queryText }) } }, async (request, reply) => {
    return newPage(reply, { newsletter_id: request.query.newsletter ?? '' });
  });

  app.post('/admin/posts', async (request, reply) => {
    try {
      const id = await posts.create(parseForm(newPostSchema, request.body));
      return reply.redirect(`/admin/posts/${id}/edit`, 303);
    } catch (err) {
      if (err instanceof ValidationError) return newPage(reply, echoFields(request.body), err.fields, 422);
      throw err;
    }
  });
}

/** Writing a draft: the editor and its autosave. */
function editorRoutes(app: TypedApp, posts: PostService) {
  async function editorPage(request: FastifyRequest, reply: FastifyReply, id: number, extra: { values?: Record<string, string>; errors?: Record<string, string>; saved?: boolean } = {}, status = 200) {
    const { post, newsletter } = await posts.load(id);
    const review = await posts.review(post, newsletter, request.user!);
    return reply.page(
      'posts/edit',
      {
        title: post.subject ? `Edit “${post.subject}”` : 'Edit post',
        head: HEAD,
        post,
        newsletter,
        statusLabel: STATUS_LABELS[post.status],
        values: extra.values ?? postValues(post),
        errors: extra.errors,
        saved: extra.saved,
        review,
        savedAt: formatClock(Number(post.updated_at), newsletter.time_zone),
        times: times(post, newsletter),
      },
      { status },
    );
  }

  app.get('/admin/posts/:id/edit', { schema: { ...postRoute, querystring: savedQuery } }, async (request, reply) => {
    const { id } = request.params;
    const { post } = await posts.load(id);
    if (!EDITABLE_STATUSES.includes(post.status)) return reply.redirect(`/admin/posts/${id}`, 303);
    return editorPage(request, reply, id, { saved: request.query.saved });
  });

  // The explicit Save: a plain form post that works without JavaScript.
  app.post('/admin/posts/:id/edit', { schema: postRoute }, async (request, reply) => {
    const { id } = request.params;
    try {
      await posts.save(id, parseForm(postFormSchema, request.body));
      return reply.redirect(`/admin/posts/${id}/edit?saved=1`, 303);
    } catch (err) {
      if (err instanceof ValidationError) return editorPage(request, reply, id, { values: echoFields(request.body), errors: err.fields }, 422);
      throw err;
    }
  });

  // Autosave (htmx, debounced): answers a small "saved at" fragment plus out-of-band updates of the
  // preview, the checks and (when it followed the subject) the slug.
  app.post('/admin/posts/:id/autosave', { schema: postRoute }, async (request, reply) => {
    const { id } = request.params;
    const before = await posts.load(id);
    const fragment = 'posts/_autosave';
    try {
      const saved = await posts.save(id, parseForm(postFormSchema, request.body));
      const review = await posts.review(saved, before.newsletter, request.user!);
      const submittedSlug = echoFields(request.body).slug ?? '';
      return reply.page(
        fragment,
        {
          ok: true,
          post: saved,
          newsletter: before.newsletter,
          review,
          values: postValues(saved),
          slugChanged: saved.slug !== submittedSlug.trim().toLowerCase(),
          savedAt: formatClock(Number(saved.updated_at), before.newsletter.time_zone),
        },
        { fragment },
      );
    } catch (err) {
      if (err instanceof ValidationError) {
        return reply.page(fragment, { ok: false, message: Object.values(err.fields).join(' '), errors: err.fields }, { fragment, status: 422 });
      }
      if (err instanceof ConflictError) return reply.page(fragment, { ok: false, message: err.message }, { fragment, status: 409 });
      throw err;
    }
  });
}

/** A post's page and what can be done from it: test send, audience, schedule, send, duplicate, delete. */
function postPageRoutes(app: TypedApp, posts: PostService) {
  const urls = publicUrls(app.ctx.config.baseUrl);
  async function postPage(request: FastifyRequest, reply: FastifyReply, id: number, extra: Record<string, unknown> = {}, options: { status?: number; fragment?: string; notice?: PostNotice } = {}) {
    const { notice, ...pageOptions } = options;
    const { post, newsletter } = await posts.load(id);
    const [review, audience, tags] = await Promise.all([posts.review(post, newsletter, request.user!), posts.audience(post), posts.tags()]);
    const showProgress = post.status !== 'draft';
    return reply.page(
      'posts/show',
      {
        title: post.subject || 'Untitled post',
        head: HEAD,
        post,
        newsletter,
        statusLabel: STATUS_LABELS[post.status],
        editable: EDITABLE_STATUSES.includes(post.status),
        published: PUBLISHED_STATUSES.includes(post.status),
        webUrl: urls.archivePost(newsletter.slug, post.slug),
        review,
        audience,
        tags,
        times: times(post, newsletter),
        zoned: timesIn(newsletter.time_zone),
        scheduleValue: post.scheduled_at ? epochToZoned(Number(post.scheduled_at), newsletter.time_zone) : '',
        minSchedule: epochToZoned(app.ctx.clock.now(), newsletter.time_zone),
        testRecipients: request.user!.email,
        maxTestRecipients: MAX_TEST_RECIPIENTS,
        progress: showProgress ? await posts.progress(post.id) : undefined,
        showProgress,
        notice: notice === 'scheduled' ? scheduledNotice(post, newsletter.time_zone) : notice === 'unscheduled' ? 'Unscheduled: the post is a draft again.' : notice === 'started' ? 'Sending has started.' : undefined,
        ...extra,
      },
      pageOptions,
    );
  }

  app.get('/admin/posts/:id', { schema: { ...postRoute, querystring: postPageQuery } }, async (request, reply) => {
    const q = request.query;
    const notice: PostNotice | undefined = q.scheduled ? 'scheduled' : q.unscheduled ? 'unscheduled' : q.started ? 'started' : undefined;
    return postPage(request, reply, request.params.id, {}, { notice });
  });

  app.post('/admin/posts/:id/test', { schema: postRoute }, async (request, reply) => {
    const { id } = request.params;
    const fragment = 'posts/_test-send';
    try {
      const input = parseForm(testSendSchema, request.body);
      const result = await posts.testSend(id, input.recipients, request.user!);
      return postPage(request, reply, id, { testResult: result, testRecipients: input.recipients.join(', ') }, { fragment });
    } catch (err) {
      if (err instanceof ValidationError) {
        return postPage(request, reply, id, { testErrors: err.fields, testRecipients: echoFields(request.body).recipients ?? '' }, { fragment, status: 422 });
      }
      throw err;
    }
  });

  app.post('/admin/posts/:id/audience', { schema: postRoute }, async (request, reply) => {
    const { id } = request.params;
    const fragment = 'posts/_audience';
    try {
      await posts.setAudience(id, parseForm(audienceSchema, request.body));
      return postPage(request, reply, id, { audienceSaved: true }, { fragment });
    } catch (err) {
      if (err instanceof ValidationError) return postPage(request, reply, id, { audienceErrors: err.fields }, { fragment, status: 422 });
      throw err;
    }
  });

  app.post('/admin/posts/:id/schedule', { schema: postRoute }, async (request, reply) => {
    const { id } = request.params;
    try {
      const input = parseForm(scheduleSchema, request.body);
      await posts.schedule(id, input.scheduled_at, request.user!);
      return reply.redirect(`/admin/posts/${id}?scheduled=1`, 303);
    } catch (err) {
      if (err instanceof ValidationError) {
        return postPage(request, reply, id, { scheduleErrors: err.fields, scheduleValue: echoFields(request.body).scheduled_at ?? '' }, { status: 422 });
      }
      throw err;
    }
  });

  app.post('/admin/posts/:id/unschedule', { schema: postRoute }, async (request, reply) => {
    const { id } = request.params;
    await posts.unschedule(id);
    return reply.redirect(`/admin/posts/${id}?unscheduled=1`, 303);
  });

  // "Send now" is two steps: this page says who it goes to and asks; the POST starts it.
  const confirmPage = async (request: FastifyRequest, reply: FastifyReply, id: number, errors?: Record<string, string>, status = 200) => {
    const { post, newsletter } = await posts.load(id);
    const [review, audience] = await Promise.all([posts.review(post, newsletter, request.user!), posts.audience(post)]);
    return reply.page(
      'posts/confirm-send',
      { title: 'Send now?', head: HEAD, post, newsletter, review, audience, errors, editable: EDITABLE_STATUSES.includes(post.status) },
      { status },
    );
  };

  app.get('/admin/posts/:id/send', { schema: postRoute }, async (request, reply) => confirmPage(request, reply, request.params.id));

  app.post('/admin/posts/:id/send', { schema: postRoute }, async (request, reply) => {
    const { id } = request.params;
    try {
      await posts.sendNow(id, request.user!);
      return reply.redirect(`/admin/posts/${id}?started=1`, 303);
    } catch (err) {
      if (err instanceof ValidationError) return confirmPage(request, reply, id, err.fields, 422);
      throw err;
    }
  });

  app.post('/admin/posts/:id/duplicate', { schema: postRoute }, async (request, reply) => {
    const copy = await posts.duplicate(request.params.id);
    return reply.redirect(`/admin/posts/${copy}/edit`, 303);
  });

  app.post('/admin/posts/:id/delete', { schema: postRoute }, async (request, reply) => {
    await posts.remove(request.params.id);
    return reply.redirect('/admin/posts?deleted=1', 303);
  });
}
