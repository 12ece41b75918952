import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { buildTestApp, setupOwner, type Agent, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { makeNewsletter, makePost, postRow } from './factories.js';

const HTMX = { 'hx-request': 'true' };

for (const dialect of DIALECTS) {
  describe(`posts editor (${dialect})`, () => {
    let t: TestApp;
    let admin: Agent;
    let newsletterId: number;
    beforeEach(async () => {
      t = await buildTestApp(dialect);
      admin = await setupOwner(t);
      newsletterId = (await makeNewsletter(t, { name: 'Weekly Notes', slug: 'weekly', time_zone: 'Europe/Paris' })).id;
    });
    afterEach(() => t.close());

    it('creates a draft with a slug from the subject and opens the editor', async () => {
      const form = await admin.get(`/admin/posts/new?newsletter=${newsletterId}`);
      assert.equal(form.statusCode, 200);
      assert.match(form.body, /<label for="f-newsletter_id">Newsletter<\/label>/);
      const res = await admin.post('/admin/posts', { newsletter_id: String(newsletterId), subject: 'Crème Brûlée & Friends!' });
      assert.equal(res.statusCode, 303);
      const id = Number(/\/admin\/posts\/(\d+)\/edit$/.exec(String(res.headers.location))?.[1]);
      const row = await postRow(t, id);
      assert.equal(row.status, 'draft');
      assert.equal(row.slug, 'creme-brulee-friends');
      const edit = await admin.get(`/admin/posts/${id}/edit`);
      assert.equal(edit.statusCode, 200);
      assert.match(edit.body, /<label for="f-subject">Subject<\/label>/);
      assert.match(edit.body, /<label for="f-body">Body \(Markdown\)<\/label>/);
      assert.match(edit.body, /hx-post="\/admin\/posts\/\d+\/autosave" hx-trigger="input changed delay:1s"/);
      assert.match(edit.body, /<script src="\/public\/posts.js" defer><\/script>/);
      // The preview is the real email, in a sandboxed frame that may run nothing.
      assert.match(edit.body, /<iframe class="mail-preview" title="Email preview" sandbox srcdoc="&lt;!doctype html&gt;/);
      assert.doesNotMatch(edit.body, /allow-scripts|allow-same-origin/);
      assert.doesNotMatch(edit.body, /<script>(?!<\/script>)/);
    });

    it('refuses a post without a real newsletter with a message beside the field', async () => {
      const res = await admin.post('/admin/posts', { newsletter_id: '999', subject: 'x' });
      assert.equal(res.statusCode, 422);
      assert.match(res.body, /id="f-newsletter_id-error">Choose a newsletter\./);
      const bad = await admin.post('/admin/posts', { newsletter_id: 'abc' });
      assert.equal(bad.statusCode, 422);
    });

    it('saves explicitly without JavaScript, and the slug follows the subject until it is edited', async () => {
      const id = await makePost(t, newsletterId, { subject: 'First try', slug: 'first-try' });
      let res = await admin.post(`/admin/posts/${id}/edit`, { subject: 'Second try', slug: 'first-try', preheader: 'Hi', body: '# Hello' });
      assert.equal(res.statusCode, 303);
      assert.equal(res.headers.location, `/admin/posts/${id}/edit?saved=1`);
      let row = await postRow(t, id);
      assert.equal(row.subject, 'Second try');
      assert.equal(row.slug, 'second-try');
      assert.equal(row.preheader, 'Hi');
      assert.equal(row.body, '# Hello');
      assert.match((await admin.get(String(res.headers.location))).body, /role="status">Saved\./);

      res = await admin.post(`/admin/posts/${id}/edit`, { subject: 'Second try', slug: 'my-own-address', body: '# Hello' });
      assert.equal(res.statusCode, 303);
      res = await admin.post(`/admin/posts/${id}/edit`, { subject: 'Third try', slug: 'my-own-address', body: '# Hello' });
      row = await postRow(t, id);
      assert.equal(row.slug, 'my-own-address');
      assert.equal(row.subject, 'Third try');
    });

    it('keeps slugs unique per newsletter, and re-renders bad input with 422 beside the field', async () => {
      await makePost(t, newsletterId, { subject: 'Taken', slug: 'taken' });
      const other = await makeNewsletter(t);
      await makePost(t, other.id, { subject: 'Elsewhere', slug: 'elsewhere' });
      const id = await makePost(t, newsletterId, { subject: 'Mine', slug: 'mine' });

      let res = await admin.post(`/admin/posts/${id}/edit`, { subject: 'Mine', slug: 'taken', body: 'Body text kept' });
      assert.equal(res.statusCode, 422);
      assert.match(res.body, /id="f-slug-error">Another post in this newsletter already uses this address\./);
      assert.match(res.body, /Body text kept<\/textarea>/);
      assert.equal((await postRow(t, id)).slug, 'mine');

      res = await admin.post(`/admin/posts/${id}/edit`, { subject: 'Mine', slug: 'Not a slug!', body: '' });
      assert.equal(res.statusCode, 422);
      assert.match(res.body, /id="f-slug-error">Use lowercase letters/);

      res = await admin.post(`/admin/posts/${id}/edit`, { subject: 'Mine', slug: 'elsewhere', body: '' });
      assert.equal(res.statusCode, 303, 'a slug used by another newsletter is free here');

      // Two new posts with the same subject get distinct slugs.
      const a = await admin.post('/admin/posts', { newsletter_id: String(newsletterId), subject: 'Taken' });
      const aId = Number(/(\d+)\/edit/.exec(String(a.headers.location))?.[1]);
      assert.equal((await postRow(t, aId)).slug, 'taken-2');

      res = await admin.post(`/admin/posts/${id}/edit`, { subject: 'x'.repeat(201), body: 'y'.repeat(200_001) });
      assert.equal(res.statusCode, 422);
      assert.match(res.body, /id="f-subject-error">Use at most 200 characters\./);
      assert.match(res.body, /id="f-body-error">The body is too long/);
    });

    it('autosaves through htmx and answers a "saved at" fragment with the new preview and checks', async () => {
      const id = await makePost(t, newsletterId, { subject: 'Draft', slug: 'draft' });
      await admin.get(`/admin/posts/${id}/edit`);
      t.clock.advance(65_000);
      const res = await admin.post(
        `/admin/posts/${id}/autosave`,
        { subject: 'Autosaved subject', slug: 'draft', preheader: '', body: 'Hello {{ subscriber.name | default: "friend" }} ![](https://example.com/x.png)' },
        HTMX,
      );
      assert.equal(res.statusCode, 200);
      assert.match(res.body, /^Saved at 13:01:05/, 'the time is shown in the newsletter’s zone (Europe/Paris)');
      assert.doesNotMatch(res.body, /<html/);
      assert.match(res.body, /<div id="preview-pane" hx-swap-oob="true">/);
      assert.match(res.body, /Hello Olive Owner/, 'the preview fills merge fields with the writer’s details');
      assert.match(res.body, /<section id="checks" class="card checks" hx-swap-oob="true"/);
      assert.match(res.body, /has no alt text/);
      assert.match(res.body, /<div id="slug-field" hx-swap-oob="true">[\s\S]*value="autosaved-subject"/);
      const row = await postRow(t, id);
      assert.equal(row.subject, 'Autosaved subject');
      assert.equal(row.slug, 'autosaved-subject');
      assert.equal(Number(row.updated_at), t.clock.now());

      const again = await admin.post(`/admin/posts/${id}/autosave`, { subject: 'Autosaved subject', slug: 'autosaved-subject', body: 'x' }, HTMX);
      assert.doesNotMatch(again.body, /id="slug-field"/, 'an unchanged slug is left alone in the form');
    });

    it('answers autosave problems with 422/409 fragments and changes nothing', async () => {
      await makePost(t, newsletterId, { subject: 'Other', slug: 'other' });
      const id = await makePost(t, newsletterId, { subject: 'Draft', slug: 'draft', body: 'kept' });
      const res = await admin.post(`/admin/posts/${id}/autosave`, { subject: 'Draft', slug: 'other', body: 'new body' }, HTMX);
      assert.equal(res.statusCode, 422);
      assert.match(res.body, /Not saved: Another post in this newsletter already uses this address\./);
      assert.equal((await postRow(t, id)).body, 'kept');

      await t.db.db.updateTable('posts').set({ status: 'sending' }).where('id', '=', id).execute();
      const late = await admin.post(`/admin/posts/${id}/autosave`, { subject: 'Draft', slug: 'draft', body: 'too late' }, HTMX);
      assert.equal(late.statusCode, 409);
      assert.match(late.body, /Not saved: This post is sending and can no longer be changed\./);
      assert.equal((await postRow(t, id)).body, 'kept');
      // The editor of a post that is going out leads to its post page instead.
      const edit = await admin.get(`/admin/posts/${id}/edit`);
      assert.equal(edit.statusCode, 303);
      assert.equal(edit.headers.location, `/admin/posts/${id}`);
    });

    it('lists posts with status and newsletter filters', async () => {
      const other = await makeNewsletter(t, { name: 'Other Letter' });
      await makePost(t, newsletterId, { subject: 'A draft' });
      await makePost(t, newsletterId, { subject: 'A sent one', status: 'sent', sent_at: t.clock.now() });
      await makePost(t, other.id, { subject: 'Other draft' });
      let res = await admin.get('/admin/posts');
      assert.equal(res.statusCode, 200);
      assert.match(res.body, /A draft/);
      assert.match(res.body, /A sent one/);
      assert.match(res.body, /Other draft/);
      assert.match(res.body, /<a href="\/admin\/posts"[^>]*aria-current="page">Posts<\/a>/);
      res = await admin.get('/admin/posts?status=sent');
      assert.doesNotMatch(res.body, /A draft/);
      assert.match(res.body, /A sent one/);
      assert.match(res.body, /<option value="sent" selected>Sent \(1\)<\/option>/);
      res = await admin.get(`/admin/posts?newsletter=${other.id}`);
      assert.match(res.body, /Other draft/);
      assert.doesNotMatch(res.body, /A draft/);
      // htmx filtering swaps just the list; junk filters are ignored, not errors.
      res = await admin.get('/admin/posts?status=draft', HTMX);
      assert.match(res.body, /^<div id="post-list">/);
      assert.equal((await admin.get('/admin/posts?status=bogus&newsletter=x')).statusCode, 200);
    });

    it('duplicates a post as a new draft and deletes drafts only', async () => {
      const sent = await makePost(t, newsletterId, { subject: 'Issue one', slug: 'issue-one', body: 'Body!', status: 'sent', sent_at: t.clock.now(), audience: '{"includeTags":[1]}' });
      let res = await admin.post(`/admin/posts/${sent}/duplicate`);
      assert.equal(res.statusCode, 303);
      const copyId = Number(/(\d+)\/edit/.exec(String(res.headers.location))?.[1]);
      const copy = await postRow(t, copyId);
      assert.equal(copy.subject, 'Copy of Issue one');
      assert.equal(copy.slug, 'copy-of-issue-one');
      assert.equal(copy.body, 'Body!');
      assert.equal(copy.status, 'draft');
      assert.equal(copy.sent_at, null);
      assert.equal(copy.audience, '{"includeTags":[1]}');

      res = await admin.post(`/admin/posts/${sent}/delete`);
      assert.equal(res.statusCode, 409);
      assert.ok(await postRow(t, sent));
      res = await admin.post(`/admin/posts/${copyId}/delete`);
      assert.equal(res.statusCode, 303);
      assert.equal(res.headers.location, '/admin/posts?deleted=1');
      assert.equal(await t.db.db.selectFrom('posts').select('id').where('id', '=', copyId).executeTakeFirst(), undefined);
      assert.equal((await admin.get(`/admin/posts/${copyId}`)).statusCode, 404);
      assert.equal((await admin.get('/admin/posts/not-a-number')).statusCode, 404);
    });

    it('shows pre-send checks on the post page', async () => {
      const id = await makePost(t, newsletterId, { subject: '', body: 'See [this](/relative) and {{ subscriber.nope }}' });
      const res = await admin.get(`/admin/posts/${id}`);
      assert.equal(res.statusCode, 200);
      assert.match(res.body, /Before you send/);
      assert.match(res.body, /Must fix:<\/strong> The subject is missing\./);
      assert.match(res.body, /The link &quot;\/relative&quot; is relative/);
      assert.match(res.body, /Merge tag in the body: \{\{ subscriber.nope \}\}/);
      assert.match(res.body, /Fix the problems marked “Must fix” above before sending\./);
      assert.doesNotMatch(res.body, /href="\/admin\/posts\/\d+\/send"/);
    });
  });
}
