import { z } from 'zod';
import { NotFoundError } from '../../lib/errors.js';
import { queryText } from '../../lib/query.js';
import type { TypedApp } from '../../plugins/schemas.js';
import { listJobs, runJobNow } from './service.js';

const NO_SUCH_JOB = 'There is no such job.';
const jobQuery = z.object({ started: queryText, busy: queryText });
const jobParams = z.object({ name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, NO_SUCH_JOB) });

/** The Jobs page: every recurring job, its last run and next run, and "Run now". */
export default async function jobRoutes(app: TypedApp) {
  const { db, jobs, clock } = app.ctx;

  app.get('/admin/jobs', { schema: { querystring: jobQuery } }, async (request, reply) => {
    const q = request.query;
    const known = (v: string | undefined) => (v !== undefined && jobs.jobs().some((j) => j.name === v) ? v : undefined);
    return reply.page('jobs/page', {
      title: 'Jobs',
      jobs: await listJobs(db, jobs, clock.now()),
      started: known(q.started),
      busy: known(q.busy),
    });
  });

  app.post('/admin/jobs/:name/run', { schema: { params: jobParams } }, async (request, reply) => {
    const { name } = request.params;
    if (!jobs.jobs().some((j) => j.name === name)) throw new NotFoundError(NO_SUCH_JOB);
    const started = await runJobNow(jobs, name);
    return reply.redirect(`/admin/jobs?${started ? 'started' : 'busy'}=${encodeURIComponent(name)}`, 303);
  });
}
