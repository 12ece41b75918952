import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { buildTestApp, setupOwner, TEST_BASE_URL, type Agent, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/db.js';

/** The row of one job on the Jobs page. */
function jobRow(body: string, name: string): string {
  const m = new RegExp(`<tr id="job-${name}">([\\s\\S]*?)</tr>`).exec(body);
  assert.ok(m, `the page lists ${name}`);
  return m[1]!;
}

for (const dialect of DIALECTS) {
  describe(`jobs page (${dialect})`, () => {
    let t: TestApp;
    let admin: Agent;
    beforeEach(async () => {
      t = await buildTestApp(dialect);
      admin = await setupOwner(t);
    });
    afterEach(() => t.close());

    it('lists every job with its schedule in words, its last run and its next run, linked from Settings', async () => {
      const settings = await admin.get('/admin/settings');
      assert.match(settings.body, /<a href="\/admin\/jobs">Jobs<\/a>/);

      const res = await admin.get('/admin/jobs');
      assert.equal(res.statusCode, 200);
      assert.match(res.body, /<h1>Jobs<\/h1>/);
      for (const job of t.jobs.jobs()) jobRow(res.body, job.name);
      const housekeeping = jobRow(res.body, 'sending-housekeeping');
      assert.match(housekeeping, /every 5 seconds/);
      assert.match(housekeeping, /Starts scheduled posts that are due/);
      assert.match(housekeeping, /Not run yet/);
      // The FakeClock stands at 12:00:00 UTC: the next tick is five seconds later.
      assert.match(housekeeping, /<time datetime="2026-11-22T12:00:05.000Z">2026-11-22 12:00:05 UTC<\/time>/);
      assert.match(jobRow(res.body, 'mail-outbox'), /every 15 seconds/);
    });

    it('"Run now" runs the job and the page shows when, how long and how it went', async () => {
      await admin.get('/admin/jobs');
      const res = await admin.post('/admin/jobs/mail-outbox/run');
      assert.equal(res.statusCode, 303);
      assert.equal(res.headers.location, '/admin/jobs?started=mail-outbox');
      await t.jobs.idle();
      const [run] = await t.db.db.selectFrom('job_runs').selectAll().execute();
      assert.equal(run?.job, 'mail-outbox');
      assert.equal(run?.trigger, 'manual');
      assert.equal(run?.status, 'idle', 'the outbox was empty');

      const page = await admin.get(res.headers.location);
      assert.match(page.body, /“mail-outbox” has started/);
      const row = jobRow(page.body, 'mail-outbox');
      assert.match(row, /2026-11-22 12:00:00 UTC<\/time> <span class="muted">\(run by hand\)<\/span>/);
      assert.match(row, /took 0 ms/);
      assert.match(row, /<strong>OK: nothing to do<\/strong>/);
      assert.match(jobRow(page.body, 'sending-housekeeping'), /Not run yet/);
    });

    it('shows a failure with its message, and says when a job is running already', async () => {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      t.jobs.register({ name: 'test-slow', schedule: '0 3 * * *', description: 'Waits for the test.', run: () => gate });
      t.jobs.register({
        name: 'test-broken',
        schedule: '0 3 * * *',
        description: 'Fails.',
        run: async () => {
          throw new Error('disk <full>');
        },
      });
      await admin.get('/admin/jobs');
      assert.equal((await admin.post('/admin/jobs/test-slow/run')).headers.location, '/admin/jobs?started=test-slow');
      const again = await admin.post('/admin/jobs/test-slow/run');
      assert.equal(again.headers.location, '/admin/jobs?busy=test-slow');
      const busy = await admin.get(again.headers.location!);
      assert.match(busy.body, /“test-slow” is running already; it was not started again/);
      assert.match(jobRow(busy.body, 'test-slow'), /<strong>Running<\/strong>/);
      assert.match(jobRow(busy.body, 'test-slow'), /every day at 03:00 UTC/);
      release();

      await admin.post('/admin/jobs/test-broken/run');
      await t.jobs.idle();
      const page = await admin.get('/admin/jobs');
      assert.match(jobRow(page.body, 'test-broken'), /<strong>Failed: disk &lt;full&gt;<\/strong>/);
      assert.match(jobRow(page.body, 'test-slow'), /<strong>OK<\/strong>/);
    });

    it('answers 404 for an unknown job, refuses a post without the CSRF token, and requires a session', async () => {
      await admin.get('/admin/jobs');
      assert.equal((await admin.post('/admin/jobs/no-such-job/run')).statusCode, 404);
      assert.equal((await admin.post('/admin/jobs/..%2Fsettings/run')).statusCode, 404);
      assert.equal((await admin.post('/admin/jobs/mail-outbox/run', { _csrf: 'wrong' })).statusCode, 403);
      const stranger = t.agent();
      const anonymous = await stranger.get('/admin/jobs');
      assert.equal(anonymous.statusCode, 303);
      const post = await stranger.post('/admin/jobs/mail-outbox/run', {}, { origin: TEST_BASE_URL });
      assert.equal(post.statusCode, 401);
      assert.equal(await t.db.db.selectFrom('job_runs').select('id').executeTakeFirst(), undefined, 'nothing ran');
    });
  });
}
