import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ConflictError, ValidationError } from '../../lib/errors.js';
import { parseForm } from '../../lib/forms.js';
import { DEFAULT_TIME_ZONE, timesIn } from '../../lib/time-zones.js';
import { pathId } from '../../lib/params.js';
import { queryText } from '../../lib/query.js';
import type { TypedApp } from '../../plugins/schemas.js';
import { htmxRequest } from '../../plugins/views.js';
import type { SendingService } from './service.js';

/**
 * The writer's controls over a send, under /admin/posts/:id/sending. The progress fragment polls
 * itself while something can still change; each action answers htmx with the fresh fragment and a
 * plain form post with a redirect to the post page, so everything works without JavaScript.
 */

const HEAD = '<link rel="stylesheet" href="/public/posts.css">';

const postParams = z.object({ id: pathId('That post does not exist.') });

const RETRY_MESSAGE = 'Choose which recipients to retry: unknown or failed.';

/** Which recipients to retry: `statuses` repeated, or one value listing them (`unknown,failed`). */
const retrySchema = z.preprocess(
  (body) => (body !== null && typeof body === 'object' ? body : {}),
  z.object({
    statuses: z.unknown().optional().transform((raw, ctx) => {
      const values = (Array.isArray(raw) ? raw : [raw]).flatMap((v) => (typeof v === 'string' ? v.split(/[,|\s]+/) : []));
      const statuses = [...new Set(values.filter((v): v is 'unknown' | 'failed' => v === 'unknown' || v === 'failed'))];
      if (statuses.length === 0) {
        ctx.addIssue({ code: 'custom', message: RETRY_MESSAGE });
        return z.NEVER;
      }
      return statuses;
    }),
  }),
);

export default async function sendingRoutes(app: TypedApp, opts: { sending: SendingService }) {
  const { sending } = opts;

  /** `shown` is the status the polling fragment last showed (its own query), when it is the one asking. */
  async function show(request: FastifyRequest, reply: FastifyReply, id: number, extra: Record<string, unknown> = {}, shown?: string) {
    const { post, newsletter, progress } = await sending.progress(id);
    // The polling fragment says which status it showed. The page around it (the post's status, its send
    // and schedule controls) was drawn for that status too, so once the send moves on htmx reloads the
    // whole page rather than leave "Sending" above a finished send.
    if (htmxRequest(request).isHtmx && shown !== undefined && shown !== progress.postStatus) reply.header('HX-Refresh', 'true');
    return reply.page(
      'sending/page',
      { title: `Sending: ${post.subject || 'Untitled post'}`, head: HEAD, post, progress, zoned: timesIn(newsletter?.time_zone ?? DEFAULT_TIME_ZONE), ...extra },
      { fragment: 'sending/_progress' },
    );
  }

  const progressQuery = z.object({ shown: queryText });
  app.get('/admin/posts/:id/sending', { schema: { params: postParams, querystring: progressQuery } }, async (request, reply) =>
    show(request, reply, request.params.id, {}, request.query.shown),
  );

  /** Runs one action; htmx gets the fragment (with the refusal shown in it), a form post a redirect. */
  const action = (name: string, run: (id: number, body: unknown) => Promise<string | undefined>) =>
    app.post(`/admin/posts/:id/sending/${name}`, { schema: { params: postParams } }, async (request, reply) => {
      const { id } = request.params;
      const { isHtmx } = htmxRequest(request);
      try {
        const notice = await run(id, request.body);
        if (!isHtmx) return reply.redirect(`/admin/posts/${id}`, 303);
        return show(request, reply, id, notice ? { notice } : {});
      } catch (err) {
        if (isHtmx && (err instanceof ConflictError || err instanceof ValidationError)) {
          return show(request, reply, id, { error: err instanceof ValidationError ? Object.values(err.fields).join(' ') : err.message });
        }
        throw err;
      }
    });

  action('pause', async (id) => {
    await sending.pause(id);
    return 'Paused. Nothing more goes out until you resume.';
  });
  action('resume', async (id) => {
    await sending.resume(id);
    return 'Resumed.';
  });
  action('cancel', async (id) => {
    await sending.cancel(id);
    return 'Cancelled. Recipients not reached yet will not get this post.';
  });
  action('retry', async (id, body) => {
    const count = await sending.retry(id, parseForm(retrySchema, body).statuses);
    return count === 1 ? '1 recipient queued again.' : `${count.toLocaleString('en')} recipients queued again.`;
  });
}
