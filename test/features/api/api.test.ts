import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { buildTestApp, setupOwner, type Agent, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';

for (const dialect of DIALECTS) {
  describe(`REST API (${dialect})`, () => {
    let t: TestApp;
    let admin: Agent;
    let newsletterId: number;

    beforeEach(async () => {
      t = await buildTestApp(dialect, { env: { API_RATE_LIMIT: '40' } });
      admin = await setupOwner(t);
      newsletterId = (await t.db.db.selectFrom('newsletters').select('id').executeTakeFirstOrThrow()).id;
    });
    afterEach(() => t.close());

    async function makeKey(scopes: string[], name = 'Shop'): Promise<string> {
      await admin.get('/admin/api');
      const res = await admin.post('/admin/api/keys', { name, scopes });
      assert.equal(res.statusCode, 201, res.body.slice(0, 300));
      const key = /id="api-key"[^>]*value="(gz_[a-z2-7]+)"/.exec(res.body)?.[1];
      assert.ok(key);
      return key;
    }

    async function call(key: string | undefined, method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
      const res = await t.app.inject({
        method: method as 'GET',
        url,
        headers: { host: 'gazette.test', ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
        // A string is sent as it is (a broken body); anything else as JSON.
        ...(body !== undefined ? { payload: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      });
      await t.mailOutbox.idle();
      return res;
    }

    it('creates a subscriber as the public form would: pending, with a confirmation mail, then lists and reads it', async () => {
      const key = await makeKey(['subscribers:write']);
      const res = await call(key, 'POST', '/api/v1/subscribers', { email: ' Ana@Example.com ', name: 'Ana', newsletter_id: newsletterId, tags: ['vip'] });
      assert.equal(res.statusCode, 201, res.body);
      const created = res.json<{ id: number; email: string; subscriptions: Array<{ status: string }>; tags: Array<{ name: string }> }>();
      assert.equal(created.email, 'ana@example.com');
      assert.deepEqual(created.subscriptions.map((s) => s.status), ['pending']);
      assert.deepEqual(created.tags.map((x) => x.name), ['vip']);
      assert.equal(res.headers.location, `/api/v1/subscribers/${created.id}`);
      assert.deepEqual(t.mailer.sent.map((m) => m.to), ['ana@example.com'], 'the confirmation mail went out');

      const active = await call(key, 'POST', '/api/v1/subscribers', { email: 'bo@example.com', newsletter_id: newsletterId, status: 'active' });
      assert.equal(active.statusCode, 403, 'vouching for consent needs the trusted scope');
      assert.equal(active.headers['content-type'], 'application/problem+json; charset=utf-8');
      const trusted = await makeKey(['subscribers:write:trusted'], 'Importer');
      assert.equal((await call(trusted, 'POST', '/api/v1/subscribers', { email: 'bo@example.com', newsletter_id: newsletterId, status: 'active' })).statusCode, 201);

      const got = await call(key, 'GET', `/api/v1/subscribers/${created.id}`);
      assert.equal(got.statusCode, 200);
      assert.equal(got.json<{ name: string }>().name, 'Ana');
      const etag = String(got.headers.etag);
      assert.equal((await call(key, 'GET', `/api/v1/subscribers/${created.id}`, undefined, { 'if-none-match': etag })).statusCode, 304);
      const renamed = await call(key, 'PATCH', `/api/v1/subscribers/${created.id}`, { name: '  Ana \t B ' });
      assert.equal(renamed.json<{ name: string }>().name, 'Ana B', 'spaces are folded as the admin form folds them');
      const moved = await call(key, 'PATCH', `/api/v1/subscribers/${created.id}`, { email: 'Ana.B@Example.com' });
      assert.deepEqual([moved.json<{ email: string }>().email, moved.json<{ name: string }>().name], ['ana.b@example.com', 'Ana B'], 'a field not sent keeps its value');
      assert.equal((await call(key, 'PATCH', `/api/v1/subscribers/${created.id}`, { email: 'nope' })).json<{ errors: Array<{ field: string }> }>().errors[0]?.field, 'email');
      assert.equal((await call(key, 'GET', `/api/v1/subscribers/${created.id}`, undefined, { 'if-none-match': etag })).statusCode, 200, 'a change gives a new ETag');
    });

    it('answers problem+json naming the field, 401 without a key, 403 without the scope, 404 for a missing one', async () => {
      const reader = await makeKey(['subscribers:read']);
      const writer = await makeKey(['subscribers:write']);
      const bad = await call(writer, 'POST', '/api/v1/subscribers', { email: 'not-an-address', newsletter_id: newsletterId });
      assert.equal(bad.statusCode, 422);
      const problem = bad.json<{ status: number; title: string; errors: Array<{ field: string; message: string }> }>();
      assert.equal(problem.status, 422);
      assert.equal(problem.errors[0]?.field, 'email');
      assert.equal((await call(writer, 'POST', '/api/v1/subscribers', { email: 'x@example.com', newsletter_id: 99999 })).json<{ errors: Array<{ field: string }> }>().errors[0]?.field, 'newsletter_id');
      assert.equal((await call(writer, 'POST', '/api/v1/subscribers', '{broken', {})).statusCode, 400);

      const none = await call(undefined, 'GET', '/api/v1/subscribers');
      assert.equal(none.statusCode, 401);
      assert.match(String(none.headers['www-authenticate']), /^Bearer/);
      assert.equal((await call('gz_wrong', 'GET', '/api/v1/subscribers')).statusCode, 401);
      assert.equal((await call(reader, 'POST', '/api/v1/subscribers', { email: 'x@example.com', newsletter_id: newsletterId })).statusCode, 403);
      assert.equal((await call(reader, 'GET', '/api/v1/events')).statusCode, 403);
      assert.equal((await call(writer, 'GET', '/api/v1/subscribers')).statusCode, 200, 'write includes read');
      assert.equal((await call(reader, 'GET', '/api/v1/subscribers/424242')).statusCode, 404);
      assert.equal((await call(reader, 'GET', '/api/v1/subscribers/99999999999')).statusCode, 404);
      assert.equal((await call(reader, 'GET', '/api/v1/nothing-here')).statusCode, 404);

      // The admin session never works on the API, and a key never works on the admin.
      const cookie = [...admin.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
      assert.equal((await call(undefined, 'GET', '/api/v1/subscribers', undefined, { cookie })).statusCode, 401);
      const adminPage = await t.app.inject({ method: 'GET', url: '/admin/subscribers', headers: { host: 'gazette.test', authorization: `Bearer ${reader}` } });
      assert.notEqual(adminPage.statusCode, 200);

      // Revoked keys stop at once.
      const row = await t.db.db.selectFrom('api_keys').select('id').where('name', '=', 'Shop').orderBy('id').executeTakeFirstOrThrow();
      await admin.get('/admin/api');
      assert.equal((await admin.post(`/admin/api/keys/${row.id}/revoke`)).statusCode, 303);
      assert.equal((await call(reader, 'GET', '/api/v1/subscribers')).statusCode, 401);
    });

    it('pages a list that changes meanwhile without losing or repeating anyone', async () => {
      const key = await makeKey(['subscribers:write:trusted']);
      for (let i = 0; i < 12; i++) await call(key, 'POST', '/api/v1/subscribers', { email: `r${i}@example.com`, newsletter_id: newsletterId, status: 'active' });
      const seen: string[] = [];
      let cursor: string | null = '';
      let pages = 0;
      while (cursor !== null) {
        const res = await call(key, 'GET', `/api/v1/subscribers?limit=5${cursor ? `&cursor=${cursor}` : ''}`);
        const body: { data: Array<{ id: number; email: string }>; next_cursor: string | null } = res.json();
        seen.push(...body.data.map((s) => s.email));
        cursor = body.next_cursor;
        if (pages++ === 0) {
          // Between pages: one reader on the first page leaves, one joins at the end.
          await call(key, 'DELETE', `/api/v1/subscribers/${body.data[0]!.id}`);
          await call(key, 'POST', '/api/v1/subscribers', { email: 'late@example.com', newsletter_id: newsletterId, status: 'active' });
        }
      }
      assert.deepEqual(seen, [...Array.from({ length: 12 }, (_, i) => `r${i}@example.com`), 'late@example.com']);
      assert.equal((await call(key, 'GET', '/api/v1/subscribers?cursor=forged')).statusCode, 422);
      assert.equal((await call(key, 'GET', '/api/v1/subscribers?limit=1000')).statusCode, 422);
    });

    it('answers a repeated POST with the same Idempotency-Key with the first answer, and writes once', async () => {
      const key = await makeKey(['subscribers:write']);
      const body = { email: 'once@example.com', newsletter_id: newsletterId };
      const first = await call(key, 'POST', '/api/v1/subscribers', body, { 'idempotency-key': 'order-17' });
      const again = await call(key, 'POST', '/api/v1/subscribers', body, { 'idempotency-key': 'order-17' });
      assert.equal(first.statusCode, 201);
      assert.equal(again.statusCode, 201);
      assert.equal(again.headers['idempotent-replayed'], 'true');
      assert.equal(again.body, first.body);
      assert.equal(t.mailer.sent.length, 1, 'one confirmation mail');
      const other = await call(key, 'POST', '/api/v1/subscribers', { ...body, email: 'twice@example.com' }, { 'idempotency-key': 'order-17' });
      assert.equal(other.statusCode, 422, 'the same key for another request is refused');
      const without = await call(key, 'POST', '/api/v1/subscribers', body);
      assert.equal(without.statusCode, 422, 'without the key, a second create is the ordinary duplicate error');
    });

    it('limits each key to its requests per minute with 429 and Retry-After', async () => {
      const key = await makeKey(['newsletters:read']);
      const other = await makeKey(['newsletters:read'], 'Other');
      let last = await call(key, 'GET', '/api/v1/newsletters');
      for (let i = 0; i < 40 && last.statusCode === 200; i++) last = await call(key, 'GET', '/api/v1/newsletters');
      assert.equal(last.statusCode, 429);
      assert.ok(Number(last.headers['retry-after']) >= 1);
      assert.equal((await call(other, 'GET', '/api/v1/newsletters')).statusCode, 200, 'per key');
      t.clock.advance(60_000);
      assert.equal((await call(key, 'GET', '/api/v1/newsletters')).statusCode, 200);
    });

    it('serves an OpenAPI 3.1 document that validates and covers every route, and the admin reference', async () => {
      const res = await call(undefined, 'GET', '/api/v1/openapi.json');
      assert.equal(res.statusCode, 200);
      const doc = res.json<{ openapi: string; paths: Record<string, Record<string, unknown>> }>();
      const validator = new Validator();
      const result = await validator.validate(doc);
      assert.ok(result.valid, result.valid ? '' : JSON.stringify(result.errors ?? null).slice(0, 1000));
      assert.equal(doc.openapi, '3.1.0');
      const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} /api/v1${p}`)).sort();
      const expected = [
        'DELETE /api/v1/posts/{id}',
        'DELETE /api/v1/subscribers/{id}',
        'DELETE /api/v1/subscribers/{id}/tags/{tagId}',
        'DELETE /api/v1/suppressions/{entry}',
        'GET /api/v1/events',
        'GET /api/v1/imports/{id}',
        'GET /api/v1/newsletters',
        'GET /api/v1/posts',
        'GET /api/v1/posts/{id}',
        'GET /api/v1/posts/{id}/stats',
        'GET /api/v1/subscribers',
        'GET /api/v1/subscribers/{id}',
        'GET /api/v1/suppressions',
        'GET /api/v1/suppressions/{entry}',
        'GET /api/v1/tags',
        'PATCH /api/v1/posts/{id}',
        'PATCH /api/v1/subscribers/{id}',
        'POST /api/v1/imports',
        'POST /api/v1/posts',
        'POST /api/v1/posts/{id}/cancel',
        'POST /api/v1/posts/{id}/schedule',
        'POST /api/v1/posts/{id}/send',
        'POST /api/v1/subscribers',
        'POST /api/v1/subscribers/{id}/tags',
        'POST /api/v1/subscribers/{id}/unsubscribe',
        'POST /api/v1/suppressions',
      ];
      assert.deepEqual(documented, expected);
      const post = doc.paths['/subscribers']!.post as { requestBody: { content: { 'application/json': { schema: { required: string[]; properties: Record<string, unknown> } } } } };
      assert.deepEqual(post.requestBody.content['application/json'].schema.required.sort(), ['email', 'newsletter_id']);
      const page = await admin.get('/admin/api');
      for (const route of expected) assert.ok(page.body.includes(`<code>${route}</code>`), route);
    });

    it('lists events by type and time, paged', async () => {
      const key = await makeKey(['events:read', 'subscribers:write']);
      for (let i = 0; i < 3; i++) {
        await call(key, 'POST', '/api/v1/subscribers', { email: `e${i}@example.com`, newsletter_id: newsletterId });
        t.clock.advance(1000);
      }
      const all = (await call(key, 'GET', '/api/v1/events?type=subscribed&limit=2')).json<{ data: Array<{ type: string; subscriber_id: number }>; next_cursor: string }>();
      assert.equal(all.data.length, 2);
      assert.ok(all.data.every((e) => e.type === 'subscribed'));
      const rest = (await call(key, 'GET', `/api/v1/events?type=subscribed&cursor=${all.next_cursor}`)).json<{ data: unknown[]; next_cursor: null }>();
      assert.equal(rest.data.length, 1);
      assert.equal(rest.next_cursor, null);
      const since = new Date(t.clock.now() - 1500).toISOString();
      assert.equal((await call(key, 'GET', `/api/v1/events?type=subscribed&since=${since}`)).json<{ data: unknown[] }>().data.length, 1);
      assert.equal((await call(key, 'GET', '/api/v1/events?since=yesterday')).statusCode, 422);
    });
  });
}
