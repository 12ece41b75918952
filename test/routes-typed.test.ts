import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { buildTestApp, setupOwner, TEST_BASE_URL, type Agent, type TestApp } from './helpers/app.js';
import { DIALECTS } from './helpers/db.js';

/** Every routes file under src/features (routes.ts, archive-routes.ts, …). */
function routeFiles(dir = 'src/features'): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const at = path.join(dir, entry.name);
    if (entry.isDirectory()) return routeFiles(at);
    return /routes\.ts$/.test(entry.name) ? [at] : [];
  });
}

/** `request.query as {…}`, `(request.body ?? {}) as Record<…>`, `(request.params as …)`. */
const REQUEST_CAST = /request\.(params|query|body)\b(\s*\?\?\s*\{\s*\})?\s*\)?\s+as\s/;

describe('route files', () => {
  it('read params, query and body through schemas, never by casting the request', () => {
    const files = routeFiles();
    assert.ok(files.length >= 12, `found the routes files: ${files.join(', ')}`);
    const casts = files.flatMap((file) =>
      readFileSync(file, 'utf8')
        .split('\n')
        .flatMap((line, i) => (REQUEST_CAST.test(line) ? [`${file}:${i + 1}: ${line.trim()}`] : [])),
    );
    assert.deepEqual(casts, []);
  });

  it('the cast pattern catches the shapes it is meant to', () => {
    for (const line of ['const q = request.query as { saved?: string };', '(request.params as { slug: string }).slug', 'const b = (request.body ?? {}) as Record<string, unknown>;']) {
      assert.match(line, REQUEST_CAST, line);
    }
    assert.doesNotMatch('const { id } = request.params;', REQUEST_CAST);
  });
});

for (const dialect of DIALECTS) {
  describe(`route schemas (${dialect})`, () => {
    let t: TestApp;
    let admin: Agent;
    beforeEach(async () => {
      t = await buildTestApp(dialect);
      admin = await setupOwner(t);
    });
    afterEach(() => t.close());

    it('a path that cannot name a row is a 404 with the route message, for the owner only', async () => {
      for (const url of ['/admin/posts/abc', '/admin/posts/0', '/admin/posts/99999999999', '/admin/posts/1e3', '/admin/newsletters/-1']) {
        const res = await admin.get(url);
        assert.equal(res.statusCode, 404, url);
      }
      assert.match((await admin.get('/admin/posts/abc')).body, /That post does not exist\./);
      assert.match((await admin.get('/admin/subscribers/x')).body, /There is no subscriber with that number/);
      const json = await admin.get('/admin/outbox/abc', { accept: 'application/json' });
      assert.equal(json.statusCode, 404);
      assert.deepEqual(JSON.parse(json.body), { error: { code: 'not_found', message: 'That message is not in the outbox.' } });

      // Validation waits for the session and the CSRF check: a stranger learns nothing about ids.
      const stranger = t.agent();
      const page = await stranger.get('/admin/posts/abc');
      assert.equal(page.statusCode, 303);
      assert.match(String(page.headers.location), /^\/login/);
      assert.equal((await stranger.post('/admin/jobs/NOT_A_JOB/run', {}, { origin: TEST_BASE_URL })).statusCode, 401);
      await admin.get('/admin/jobs');
      assert.equal((await admin.post('/admin/jobs/NOT_A_JOB/run', { _csrf: 'wrong' })).statusCode, 403);
      assert.equal((await admin.post('/admin/jobs/NOT_A_JOB/run')).statusCode, 404);
    });

    it('a body that fails its schema is a 422 naming the field: JSON for a JSON client, a page otherwise', async () => {
      const reader = t.agent();
      const json = await reader.request('POST', '/preferences/any-token', JSON.stringify({ newsletters: ['abc'] }), { 'content-type': 'application/json' });
      assert.equal(json.statusCode, 422);
      assert.deepEqual(JSON.parse(json.body), {
        error: { code: 'validation_failed', message: 'Some fields need attention.', fields: { 'newsletters.0': 'Choose newsletters from the list.' } },
      });
      const page = await reader.post('/preferences/any-token', { newsletters: '12345678901' });
      assert.equal(page.statusCode, 422);
      assert.match(page.headers['content-type'] as string, /^text\/html/);
      assert.match(page.body, /Choose newsletters from the list\./);
    });

    it('a body schema is checked after the CSRF token, which it does not swallow', async () => {
      await admin.get('/admin/subscribers');
      const forged = await admin.post('/admin/subscribers/1/unsubscribe', { _csrf: 'wrong', newsletter_id: 'nope' });
      assert.equal(forged.statusCode, 403);
      const bad = await admin.post('/admin/subscribers/1/unsubscribe', { newsletter_id: 'nope' });
      assert.equal(bad.statusCode, 422);
      assert.match(bad.body, /Choose a newsletter\./);
    });

    it('a query value edited by hand or repeated reads as not given: the page still shows', async () => {
      for (const url of [
        '/admin/jobs?started=a&started=b&busy=%2e%2e',
        '/admin/posts?status=nope&newsletter=abc&deleted=1&deleted=1',
        '/admin/outbox?before=abc',
        '/admin/mail?before=-1&status=weird&resent=x',
        '/admin/settings?saved[]=password',
      ]) {
        assert.equal((await admin.get(url)).statusCode, 200, url);
      }
      assert.match((await admin.get('/admin/posts?deleted=1')).body, /The draft was deleted\./);
      assert.doesNotMatch((await admin.get('/admin/posts?deleted=1&deleted=1')).body, /The draft was deleted\./);
    });
  });
}
