import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { buildTestApp, setupOwner, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/db.js';

/**
 * Errors reach the writer without Sentry: a 5xx request, a failed job and a crash are kept redacted in
 * error_reports (the latest 50) and listed on the admin's Errors page, linked from Settings.
 */

const ADDRESS = 'victim.reader@example.org';
const TOKEN = 'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6';
const FAILURE = `lookup for ${ADDRESS} failed: password=hunter22 at /confirm/${TOKEN} via postgres://gazette:s3cret@db.internal:5432/news`;

/** An app whose /healthz throws FAILURE (the ping is called without a safety net). */
function failingApp(dialect: (typeof DIALECTS)[number]) {
  return buildTestApp(dialect, {
    pingDb: async () => {
      throw new Error(FAILURE);
    },
  });
}

function assertRedacted(text: string): void {
  for (const secret of [ADDRESS, 'hunter22', TOKEN, 's3cret']) assert.ok(!text.includes(secret), `${secret} is not in ${text.slice(0, 300)}`);
}

for (const dialect of DIALECTS) {
  describe(`error reports (${dialect})`, () => {
    let t: TestApp;
    afterEach(() => t.close());

    it('keeps a 5xx request redacted, with its request id and route template, and shows it to the writer', async () => {
      t = await failingApp(dialect);
      const owner = await setupOwner(t);
      const res = await t.app.inject({ method: 'GET', url: '/healthz', headers: { accept: 'application/json' } });
      assert.equal(res.statusCode, 500);
      const requestId = res.json().error.requestId as string;
      assert.match(requestId, /^[0-9a-f]{12}$/);
      await t.observability.errors.flush();

      const rows = await t.db.db.selectFrom('error_reports').selectAll().execute();
      assert.equal(rows.length, 1);
      const row = rows[0]!;
      assert.deepEqual(
        { source: row.source, request_id: row.request_id, method: row.method, route: row.route, status: row.status, error_type: row.error_type },
        { source: 'request', request_id: requestId, method: 'GET', route: '/healthz', status: 500, error_type: 'Error' },
      );
      assert.match(row.message, /lookup for \[email\] failed: password=\[redacted\] at \/confirm\/\[token\] via postgres:\/\/gazette:\[redacted\]@db\.internal/);
      assert.match(row.stack ?? '', /at .*health/);
      assertRedacted(`${row.message}\n${row.stack}`);

      const page = await owner.get('/admin/errors');
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /<h1>Errors<\/h1>/);
      assert.ok(page.body.includes(`<code>${requestId}</code>`), 'the reference a reader quotes');
      assert.match(page.body, /GET \/healthz \(500\)/);
      assertRedacted(page.body);

      const settings = await owner.get('/admin/settings');
      assert.match(settings.body, /href="\/admin\/errors"/);
    });

    it('is for the signed-in writer only', async () => {
      t = await buildTestApp(dialect);
      await setupOwner(t);
      const anonymous = await t.agent().get('/admin/errors');
      assert.equal(anonymous.statusCode, 303);
      assert.match(String(anonymous.headers.location), /^\/login/);
    });

    it('does not report client errors (404, 422) or 503 answers that are not errors', async () => {
      t = await buildTestApp(dialect, { pingDb: async () => false });
      const owner = await setupOwner(t);
      assert.equal((await owner.get('/no/such/page')).statusCode, 404);
      assert.equal((await owner.post('/admin/settings/password', { current_password: '', new_password: 'x' })).statusCode, 422);
      assert.equal((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 503);
      await t.observability.errors.flush();
      assert.equal((await t.db.db.selectFrom('error_reports').select('id').execute()).length, 0);
      const page = await owner.get('/admin/errors');
      assert.match(page.body, /No errors recorded\./);
    });

    it('reports a failed job and lists it with the job failures', async () => {
      t = await buildTestApp(dialect);
      const owner = await setupOwner(t);
      t.jobs.register({
        name: 'always-fails',
        schedule: '0 0 1 1 *',
        description: 'Fails, for the test.',
        run: async () => {
          throw new TypeError(`cannot reach ${ADDRESS}`);
        },
      });
      const result = await t.jobs.runOnce('always-fails');
      assert.equal(result.outcome, 'error');
      await t.observability.errors.flush();
      const rows = await t.db.db.selectFrom('error_reports').selectAll().execute();
      assert.deepEqual(
        rows.map((r) => ({ source: r.source, job: r.job, type: r.error_type, message: r.message })),
        [{ source: 'job', job: 'always-fails', type: 'TypeError', message: 'cannot reach [email]' }],
      );
      const page = await owner.get('/admin/errors');
      assert.match(page.body, /job always-fails/);
      assert.match(page.body, /<td><strong>always-fails<\/strong><\/td>/);
    });

    it('reports errors the send loop and the mail outbox log, and still logs them', async () => {
      t = await buildTestApp(dialect);
      const owner = await setupOwner(t);
      const logged: string[] = [];
      const log = t.observability.reportingLog({ info() {}, warn() {}, error: (_obj: object, msg?: string) => void logged.push(msg ?? '') });
      log.error({ err: new Error(`relay refused ${ADDRESS}`), postId: 1 }, 'send loop failed');
      log.error({ postId: 1 }, 'a line without an error');
      await t.observability.errors.flush();
      assert.deepEqual(logged, ['send loop failed', 'a line without an error']);
      const rows = await t.db.db.selectFrom('error_reports').selectAll().execute();
      assert.deepEqual(rows.map((r) => ({ source: r.source, message: r.message })), [{ source: 'background', message: 'relay refused [email]' }]);
      assert.match((await owner.get('/admin/errors')).body, /background work \(sending, mail\)/);
    });

    it('keeps only the latest 50', async () => {
      t = await failingApp(dialect);
      for (let i = 0; i < 55; i++) assert.equal((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 500);
      await t.observability.errors.flush();
      const rows = await t.db.db.selectFrom('error_reports').select('id').orderBy('id').execute();
      assert.equal(rows.length, 50);
      assert.equal(rows[0]!.id, 6);
    });
  });
}
