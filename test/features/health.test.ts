import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { buildTestApp, setupOwner, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/db.js';

for (const dialect of DIALECTS) {
  describe(`health and error pages (${dialect})`, () => {
    let t: TestApp;
    afterEach(() => t.close());

    it('answers /healthz with 200 when the database answers', async () => {
      t = await buildTestApp(dialect);
      const res = await t.app.inject({ method: 'GET', url: '/healthz' });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json(), { status: 'ok', db: 'ok' });
      assert.match(String(res.headers['content-type']), /^application\/json/);
      assert.equal(res.headers['cache-control'], 'no-store');
    });

    it('answers /healthz with 503 when the database does not', async () => {
      t = await buildTestApp(dialect, { pingDb: async () => false });
      const res = await t.app.inject({ method: 'GET', url: '/healthz' });
      assert.equal(res.statusCode, 503);
      assert.deepEqual(res.json(), { status: 'error', db: 'unreachable' });
    });

    it('reports the real database going away', async () => {
      t = await buildTestApp(dialect);
      await t.db.close();
      const res = await t.app.inject({ method: 'GET', url: '/healthz' });
      assert.equal(res.statusCode, 503);
    });

    it('reports a stuck database: a transaction holding every connection makes /healthz answer 503', { timeout: 15_000 }, async () => {
      t = await buildTestApp(dialect);
      // SQLite has one connection; on Postgres, hold every connection of the pool.
      const holders = dialect === 'sqlite' ? 1 : 10;
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const entered: Promise<void>[] = [];
      const held = Array.from({ length: holders }, () => {
        let enter!: () => void;
        entered.push(new Promise<void>((resolve) => (enter = resolve)));
        return t.db.db.transaction().execute(async (trx) => {
          await trx.selectFrom('users').select('id').execute();
          enter();
          await released;
        });
      });
      await Promise.all(entered);
      try {
        const res = await t.app.inject({ method: 'GET', url: '/healthz' });
        assert.equal(res.statusCode, 503);
        assert.deepEqual(res.json(), { status: 'error', db: 'unreachable' });
      } finally {
        release();
        await Promise.all(held);
      }
      assert.equal((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'healthy again once released');
    });

    it('answers an unknown URL with a 404 page, or JSON when asked', async () => {
      t = await buildTestApp(dialect);
      const page = await t.app.inject({ method: 'GET', url: '/no/such/page' });
      assert.equal(page.statusCode, 404);
      assert.match(String(page.headers['content-type']), /^text\/html/);
      assert.match(page.body, /<h1>Page not found<\/h1>/);
      assert.match(page.body, /^<!doctype html>/);
      assert.ok(page.headers['content-security-policy']);

      const json = await t.app.inject({ method: 'GET', url: '/no/such/page', headers: { accept: 'application/json' } });
      assert.equal(json.statusCode, 404);
      assert.equal(json.json().error.code, 'not_found');
      assert.equal(typeof json.json().error.message, 'string');

      // Any method: an unknown URL is a 404, never a CSRF or sign-in refusal.
      const post = await t.app.inject({ method: 'POST', url: '/no/such/form', headers: { accept: 'application/json' } });
      assert.equal(post.statusCode, 404);
    });

    it('shows a generic 500 page that does not leak the error', async () => {
      // The /healthz route calls pingDb without a safety net, so a ping that throws (instead of answering
      // false, as the real one does) is a genuine unexpected error inside a route.
      const secret = 'connection to 10.1.2.3 failed: password authentication failed for user "gazette_admin"';
      t = await buildTestApp(dialect, {
        pingDb: async () => {
          throw new Error(secret);
        },
      });
      await setupOwner(t);

      const page = await t.app.inject({ method: 'GET', url: '/healthz' });
      assert.equal(page.statusCode, 500);
      assert.match(String(page.headers['content-type']), /^text\/html/);
      assert.match(page.body, /<h1>Something went wrong<\/h1>/);
      assert.match(page.body, /quote this reference: [\w-]+\./);
      for (const leak of ['10.1.2.3', 'gazette_admin', 'password authentication', 'Error:']) {
        assert.ok(!page.body.includes(leak), `the page does not contain ${JSON.stringify(leak)}`);
      }
      assert.doesNotMatch(page.body, /\.[jt]s:\d+/, 'no stack trace');

      const json = await t.app.inject({ method: 'GET', url: '/healthz', headers: { accept: 'application/json' } });
      assert.equal(json.statusCode, 500);
      const body = json.json();
      assert.equal(body.error.code, 'internal_error');
      assert.equal(typeof body.error.requestId, 'string');
      assert.ok(!json.body.includes('10.1.2.3'));
      assert.ok(!json.body.includes('gazette_admin'));
    });
  });
}
