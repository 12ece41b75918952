import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../../lib/errors.js';
import { listJobs, runJobNow } from './service.js';

const JOB_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;

/** The Jobs page: every recurring job, its last run and next run, and "Run now". */
export default async function jobRoutes(app: FastifyInstance) {
  const { db, jobs, clock } = app.ctx;

  app.get('/admin/jobs', async (request, reply) => {
    const q = request.query as { started?: unknown; busy?: unknown };
    const known = (v: unknown) => (typeof v === 'string' && jobs.jobs().some((j) => j.name === v) ? v : undefined);
    return reply.page('jobs/page', {
      title: 'Jobs',
      jobs: await listJobs(db, jobs, clock.now()),
      started: known(q.started),
      busy: known(q.busy),
    });
  });

  app.post('/admin/jobs/:name/run', async (request, reply) => {
    const { name } = request.params as { name: string };
    if (!JOB_NAME.test(name) || !jobs.jobs().some((j) => j.name === name)) throw new NotFoundError('There is no such job.');
    const started = await runJobNow(jobs, name);
    return reply.redirect(`/admin/jobs?${started ? 'started' : 'busy'}=${encodeURIComponent(name)}`, 303);
  });
}
