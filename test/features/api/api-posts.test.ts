import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import { buildTestApp, setupOwner, type Agent, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';

interface PostJson {
  id: number;
  status: string;
  subject: string;
  body: string;
  slug: string;
  scheduled_at: string | null;
  audience: { include_tags: number[]; exclude_tags: number[] };
}

for (const dialect of DIALECTS) {
  describe(`REST API: posts, imports and suppressions (${dialect})`, () => {
    let t: TestApp;
    let admin: Agent;
    let newsletterId: number;

    beforeEach(async () => {
      t = await buildTestApp(dialect, { mailer: 'dev-outbox' });
      admin = await setupOwner(t);
      newsletterId = (await t.db.db.selectFrom('newsletters').select('id').executeTakeFirstOrThrow()).id;
    });
    afterEach(() => t.close());

    async function makeKey(scopes: string[], name = 'Site'): Promise<string> {
      await admin.get('/admin/api');
      const res = await admin.post('/admin/api/keys', { name, scopes });
      assert.equal(res.statusCode, 201, res.body.slice(0, 300));
      return /id="api-key"[^>]*value="(gz_[a-z2-7]+)"/.exec(res.body)![1]!;
    }

    async function call(key: string, method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
      const json = body !== undefined && typeof body !== 'string';
      return t.app.inject({
        method: method as 'GET',
        url,
        headers: { host: 'gazette.test', authorization: `Bearer ${key}`, ...(json ? { 'content-type': 'application/json' } : {}), ...headers },
        ...(body !== undefined ? { payload: json ? JSON.stringify(body) : (body as string) } : {}),
      });
    }

    /** The mails of `subject` as they would have gone on the wire (the dev outbox keeps the raw message). */
    async function mailsOf(subject: string) {
      const rows = await t.db.db.selectFrom('dev_outbox').select(['to_address', 'raw']).where('subject', '=', subject).orderBy('to_address').execute();
      return Promise.all(rows.map(async (r) => ({ to: r.to_address, text: (await simpleParser(r.raw)).text ?? '' })));
    }

    async function addActive(email: string): Promise<void> {
      const trusted = await makeKey(['subscribers:write:trusted'], `Trusted ${email}`);
      assert.equal((await call(trusted, 'POST', '/api/v1/subscribers', { email, newsletter_id: newsletterId, status: 'active' })).statusCode, 201);
    }

    it('writes a draft, changes it, and sends it to the list as the post page would', async () => {
      await addActive('ana@example.com');
      await addActive('bo@example.com');
      const writer = await makeKey(['posts:write']);
      const created = await call(writer, 'POST', '/api/v1/posts', { newsletter_id: newsletterId, subject: 'Hello\nthere', body: '# Hi\n\nFirst issue.' });
      assert.equal(created.statusCode, 201, created.body);
      const post = created.json<PostJson>();
      assert.equal(post.status, 'draft');
      assert.equal(post.subject, 'Hello there', 'a subject is folded to one line, as in the editor');
      assert.equal(post.slug, 'hello-there');
      assert.equal(created.headers.location, `/api/v1/posts/${post.id}`);

      const patched = await call(writer, 'PATCH', `/api/v1/posts/${post.id}`, { body: 'Changed body with {{ subscriber.email }}.' });
      assert.equal(patched.statusCode, 200, patched.body);
      assert.equal(patched.json<PostJson>().subject, 'Hello there', 'fields not given keep their value');
      assert.equal(patched.json<PostJson>().body, 'Changed body with {{ subscriber.email }}.');
      const row = await t.db.db.selectFrom('posts').select(['body', 'subject']).where('id', '=', post.id).executeTakeFirstOrThrow();
      assert.equal(row.body, 'Changed body with {{ subscriber.email }}.');

      assert.equal((await call(writer, 'POST', `/api/v1/posts/${post.id}/send`)).statusCode, 403, 'sending needs posts:send');
      const sender = await makeKey(['posts:send']);
      assert.equal((await call(sender, 'GET', `/api/v1/posts/${post.id}`)).statusCode, 200, 'posts:send covers reading');
      const sent = await call(sender, 'POST', `/api/v1/posts/${post.id}/send`);
      assert.equal(sent.statusCode, 202, sent.body);
      await t.sending.runOnce();
      const mails = await mailsOf('Hello there');
      assert.deepEqual(mails.map((m) => m.to), ['ana@example.com', 'bo@example.com']);
      assert.match(mails[0]!.text, /Changed body with ana@example\.com\./);
      assert.equal((await call(sender, 'GET', `/api/v1/posts/${post.id}`)).json<PostJson>().status, 'sent');

      const again = await call(writer, 'PATCH', `/api/v1/posts/${post.id}`, { subject: 'Too late' });
      assert.equal(again.statusCode, 409, 'a sent post cannot change');
      const stats = await call(sender, 'GET', `/api/v1/posts/${post.id}/stats`);
      assert.equal(stats.statusCode, 200);
      assert.equal(typeof stats.json<{ recipients: number }>().recipients, 'number');
    });

    it('schedules for an ISO time, refuses a past one naming the field, and cancels back to draft', async () => {
      await addActive('ana@example.com');
      const key = await makeKey(['posts:write', 'posts:send']);
      const post = (await call(key, 'POST', '/api/v1/posts', { newsletter_id: newsletterId, subject: 'Later', body: 'Soon.' })).json<PostJson>();

      const past = await call(key, 'POST', `/api/v1/posts/${post.id}/schedule`, { scheduled_at: new Date(t.clock.now() - 60_000).toISOString() });
      assert.equal(past.statusCode, 422);
      assert.equal(past.json<{ errors: Array<{ field: string }> }>().errors[0]?.field, 'scheduled_at');
      const noZone = await call(key, 'POST', `/api/v1/posts/${post.id}/schedule`, { scheduled_at: '2030-01-01T09:00:00' });
      assert.equal(noZone.statusCode, 422, 'a time without a zone is ambiguous');

      const at = t.clock.now() + 3_600_000;
      const scheduled = await call(key, 'POST', `/api/v1/posts/${post.id}/schedule`, { scheduled_at: new Date(at).toISOString().replace('Z', '+00:00') });
      assert.equal(scheduled.statusCode, 200, scheduled.body);
      assert.equal(scheduled.json<PostJson>().status, 'scheduled');
      assert.equal(Date.parse(scheduled.json<PostJson>().scheduled_at!), at);
      const event = await t.db.db.selectFrom('events').select('type').where('post_id', '=', post.id).where('type', '=', 'post_scheduled').executeTakeFirst();
      assert.ok(event, 'scheduling through the API records the same event as the admin');

      const cancelled = await call(key, 'POST', `/api/v1/posts/${post.id}/cancel`);
      assert.equal(cancelled.statusCode, 200, cancelled.body);
      assert.equal(cancelled.json<PostJson>().status, 'draft');
      assert.equal((await call(key, 'POST', `/api/v1/posts/${post.id}/cancel`)).statusCode, 409, 'a draft has nothing to cancel');

      const tag = await t.db.db.insertInto('tags').values({ name: 'vip', created_at: t.clock.now() }).returning('id').executeTakeFirstOrThrow();
      const audience = await call(key, 'PATCH', `/api/v1/posts/${post.id}`, { audience: { include_tags: [tag.id] } });
      assert.deepEqual(audience.json<PostJson>().audience, { include_tags: [tag.id], exclude_tags: [] });
      assert.equal((await call(key, 'DELETE', `/api/v1/posts/${post.id}`)).statusCode, 204);
      assert.equal((await call(key, 'GET', `/api/v1/posts/${post.id}`)).statusCode, 404);
    });

    it('refuses bad drafts without leaving one behind, and pages posts by cursor', async () => {
      const key = await makeKey(['posts:write']);
      const before = await t.db.db.selectFrom('posts').select('id').execute();
      const badSlug = await call(key, 'POST', '/api/v1/posts', { newsletter_id: newsletterId, subject: 'X', slug: 'Not A Slug!' });
      assert.equal(badSlug.statusCode, 422);
      assert.equal(badSlug.json<{ errors: Array<{ field: string }> }>().errors[0]?.field, 'slug');
      assert.equal((await call(key, 'POST', '/api/v1/posts', { newsletter_id: newsletterId, bogus: 1 })).statusCode, 422, 'unknown fields are refused');
      assert.equal((await t.db.db.selectFrom('posts').select('id').execute()).length, before.length, 'no half-made draft is left');

      for (const subject of ['One', 'Two', 'Three']) await call(key, 'POST', '/api/v1/posts', { newsletter_id: newsletterId, subject });
      const first = (await call(key, 'GET', '/api/v1/posts?limit=2')).json<{ data: PostJson[]; next_cursor: string }>();
      const second = (await call(key, 'GET', `/api/v1/posts?limit=2&cursor=${first.next_cursor}`)).json<{ data: PostJson[]; next_cursor: string | null }>();
      const subjects = [...first.data, ...second.data].map((p) => p.subject);
      assert.deepEqual(subjects.slice(-3), ['One', 'Two', 'Three']);
      assert.equal(second.next_cursor, null);
    });

    it('imports a CSV sent as the body, like the admin import, and reports its progress', async () => {
      const key = await makeKey(['subscribers:write']);
      const csv = 'email,name\nana@example.com,Ana\nnot-an-address,X\nbo@example.com,Bo\n';
      const confirmed = await call(key, 'POST', `/api/v1/imports?newsletter_id=${newsletterId}&mode=confirmed`, csv, { 'content-type': 'text/csv' });
      assert.equal(confirmed.statusCode, 403, 'importing as confirmed vouches for consent');

      const res = await call(key, 'POST', `/api/v1/imports?newsletter_id=${newsletterId}&mode=send_confirmation&tags=api,spring`, csv, { 'content-type': 'text/csv', 'idempotency-key': 'imp-1' });
      assert.equal(res.statusCode, 202, res.body);
      const id = res.json<{ id: string }>().id;
      await t.app.imports.idle();
      const status = (await call(key, 'GET', `/api/v1/imports/${id}`)).json<{ status: string; created: number; invalid: number; tags: string[] }>();
      assert.equal(status.status, 'done');
      assert.equal(status.created, 2);
      assert.equal(status.invalid, 1);
      assert.deepEqual(status.tags, ['api', 'spring']);
      const subs = await t.db.db.selectFrom('subscriptions as sn').innerJoin('subscribers as s', 's.id', 'sn.subscriber_id').select(['s.email', 'sn.status']).orderBy('s.email').execute();
      assert.deepEqual(subs, [{ email: 'ana@example.com', status: 'pending' }, { email: 'bo@example.com', status: 'pending' }]);

      const replay = await call(key, 'POST', `/api/v1/imports?newsletter_id=${newsletterId}&mode=send_confirmation&tags=api,spring`, csv, { 'content-type': 'text/csv', 'idempotency-key': 'imp-1' });
      assert.equal(replay.headers['idempotent-replayed'], 'true');
      assert.equal(replay.json<{ id: string }>().id, id, 'a retried upload does not import twice');
      const other = await call(key, 'POST', `/api/v1/imports?newsletter_id=${newsletterId}&mode=send_confirmation`, 'email\nzed@example.com\n', { 'content-type': 'text/csv', 'idempotency-key': 'imp-1' });
      assert.equal(other.statusCode, 422, 'the same key with another file is refused');

      assert.equal((await call(key, 'POST', `/api/v1/imports?newsletter_id=${newsletterId}&mode=send_confirmation`, '', { 'content-type': 'text/csv' })).statusCode, 422);
      const noNewsletter = await call(key, 'POST', `/api/v1/imports?newsletter_id=99999&mode=send_confirmation`, csv, { 'content-type': 'text/csv' });
      assert.equal(noNewsletter.json<{ errors: Array<{ field: string }> }>().errors[0]?.field, 'newsletter_id');
      assert.equal((await call(key, 'GET', '/api/v1/imports/nope')).statusCode, 404);
    });

    it('adds, lists, reads and removes suppressions, and a blocked address is not mailed', async () => {
      await addActive('ana@example.com');
      const key = await makeKey(['suppressions:write', 'posts:write', 'posts:send']);
      const added = await call(key, 'POST', '/api/v1/suppressions', { email: 'Ana@Example.com', detail: 'asked by phone' });
      assert.equal(added.statusCode, 201, added.body);
      const entry = added.json<{ email: string; reason: string; source: string; email_hash: string }>();
      assert.deepEqual([entry.email, entry.reason, entry.source], ['ana@example.com', 'blocked', 'api']);
      assert.equal((await call(key, 'POST', '/api/v1/suppressions', { email: 'ana@example.com' })).statusCode, 200, 'adding twice keeps the first');
      const history = await t.db.db.selectFrom('events').select('type').where('type', '=', 'suppressed').execute();
      assert.equal(history.length, 1);

      const post = (await call(key, 'POST', '/api/v1/posts', { newsletter_id: newsletterId, subject: 'Blocked?', body: 'Hi.' })).json<PostJson>();
      await call(key, 'POST', `/api/v1/posts/${post.id}/send`);
      await t.sending.runOnce();
      assert.deepEqual(await mailsOf('Blocked?'), [], 'a suppressed address is not mailed');

      const list = (await call(key, 'GET', '/api/v1/suppressions?reason=blocked')).json<{ data: Array<{ email: string }> }>();
      assert.deepEqual(list.data.map((d) => d.email), ['ana@example.com']);
      assert.equal((await call(key, 'GET', `/api/v1/suppressions/${entry.email_hash}`)).json<{ email: string }>().email, 'ana@example.com');
      assert.equal((await call(key, 'GET', '/api/v1/suppressions/x%40example.com')).statusCode, 404);
      assert.equal((await call(key, 'GET', '/api/v1/suppressions/not%20an%20address')).statusCode, 404, 'a path that names nothing is not found');
      assert.equal((await call(key, 'DELETE', '/api/v1/suppressions/ANA%40example.com')).statusCode, 204);
      assert.equal((await t.db.db.selectFrom('suppressions').select('email_hash').execute()).length, 0);
      assert.equal((await call(key, 'DELETE', '/api/v1/suppressions/ana%40example.com')).statusCode, 404);
      const reader = await makeKey(['suppressions:read'], 'Reader');
      assert.equal((await call(reader, 'POST', '/api/v1/suppressions', { email: 'x@example.com' })).statusCode, 403);
    });
  });
}
