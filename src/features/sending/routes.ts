import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ConflictError, ValidationError } from '../../lib/errors.js';
import { DEFAULT_TIME_ZONE, timesIn } from '../../lib/time-zones.js';
import { idParam } from '../../lib/params.js';
import { htmxRequest } from '../../plugins/views.js';
import type { SendingService } from './service.js';

/**
 * The writer's controls over a send, under /admin/posts/:id/sending. The progress fragment polls
 * itself while something can still change; each action answers htmx with the fresh fragment and a
 * plain form post with a redirect to the post page, so everything works without JavaScript.
 */

const HEAD = '<link rel="stylesheet" href="/public/posts.css">';

function postIdOf(request: FastifyRequest): number {
  return idParam(request.params, 'That post does not exist.');
}

function statusesOf(body: unknown): Array<'unknown' | 'failed'> {
  const raw = (body as { statuses?: unknown } | undefined)?.statuses;
  const values = (Array.isArray(raw) ? raw : [raw]).flatMap((v) => (typeof v === 'string' ? v.split(/[,|\s]+/) : []));
  const statuses = [...new Set(values.filter((v): v is 'unknown' | 'failed' => v === 'unknown' || v === 'failed'))];
  if (statuses.length === 0) throw new ValidationError({ statuses: 'Choose which recipients to retry: unknown or failed.' });
  return statuses;
}

export default async function sendingRoutes(app: FastifyInstance, opts: { sending: SendingService }) {
  const { sending } = opts;

  async function show(request: FastifyRequest, reply: FastifyReply, id: number, extra: Record<string, unknown> = {}) {
    const { post, newsletter, progress } = await sending.progress(id);
    // The polling fragment says which status it showed. The page around it (the post's status, its send
    // and schedule controls) was drawn for that status too, so once the send moves on htmx reloads the
    // whole page rather than leave "Sending" above a finished send.
    const shown = (request.query as { shown?: unknown } | undefined)?.shown;
    if (htmxRequest(request).isHtmx && typeof shown === 'string' && shown !== progress.postStatus) reply.header('HX-Refresh', 'true');
    return reply.page(
      'sending/page',
      { title: `Sending: ${post.subject || 'Untitled post'}`, head: HEAD, post, progress, zoned: timesIn(newsletter?.time_zone ?? DEFAULT_TIME_ZONE), ...extra },
      { fragment: 'sending/_progress' },
    );
  }

  app.get('/admin/posts/:id/sending', async (request, reply) => show(request, reply, postIdOf(request)));

  /** Runs one action; htmx gets the fragment (with the refusal shown in it), a form post a redirect. */
  const action = (name: string, run: (id: number, request: FastifyRequest) => Promise<string | undefined>) =>
    app.post(`/admin/posts/:id/sending/${name}`, async (request, reply) => {
      const id = postIdOf(request);
      const { isHtmx } = htmxRequest(request);
      try {
        const notice = await run(id, request);
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
  action('retry', async (id, request) => {
    const count = await sending.retry(id, statusesOf(request.body));
    return count === 1 ? '1 recipient queued again.' : `${count.toLocaleString('en')} recipients queued again.`;
  });
}
