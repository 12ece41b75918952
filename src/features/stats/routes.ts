import { Readable } from 'node:stream';
import { z } from 'zod';
import { parseId, pathId } from '../../lib/params.js';
import { queryText } from '../../lib/query.js';
import type { TypedApp } from '../../plugins/schemas.js';
import { attachmentHeaders } from '../subscribers/csv.js';
import type { StatsService } from './service.js';

const postRoute = { params: z.object({ id: pathId('That post does not exist.') }) };
const subscriberRoute = { params: z.object({ id: pathId('That subscriber does not exist.') }) };
/** Any value that is not a newsletter id means "all newsletters". */
export const dashboardQuery = z.object({ newsletter: queryText.transform((v) => (v === undefined ? undefined : (parseId(v) ?? undefined))) });

const STATS_HEAD = '<link rel="stylesheet" href="/public/stats.css">';

/** A post's stats page and CSV, and a subscriber's opens and clicks (the dashboard's part is in dashboard/routes.ts). */
export default async function statsRoutes(app: TypedApp, opts: { stats: StatsService }) {
  const { stats } = opts;

  app.get('/admin/posts/:id/stats', { schema: postRoute }, async (request, reply) => {
    const data = await stats.post(request.params.id);
    return reply.page('stats/post', { title: `Stats: ${data.post.subject || 'Untitled post'}`, head: STATS_HEAD, ...data });
  });

  app.get('/admin/posts/:id/stats.csv', { schema: postRoute }, async (request, reply) => {
    const first = stats.postCsv(request.params.id);
    // The first chunk is read before any header goes out, so an unknown post is still a 404 page.
    const head = await first.next();
    reply.headers(attachmentHeaders(`post-${request.params.id}-stats.csv`));
    async function* rest() {
      if (!head.done) yield head.value;
      yield* first;
    }
    return reply.send(Readable.from(rest()));
  });

  app.get('/admin/subscribers/:id/activity', { schema: subscriberRoute }, async (request, reply) => {
    const activity = await stats.activity(request.params.id);
    return reply.page('stats/activity', { title: 'Opens and clicks', head: STATS_HEAD, ...activity }, { fragment: 'stats/_activity' });
  });
}
