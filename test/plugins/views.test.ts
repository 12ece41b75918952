import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { buildTestApp, setupOwner, type Agent, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/db.js';

for (const dialect of DIALECTS) {
  describe(`full pages and htmx fragments (${dialect})`, () => {
    let t: TestApp;
    let admin: Agent;
    beforeEach(async () => {
      t = await buildTestApp(dialect);
      admin = await setupOwner(t);
    });
    afterEach(() => t.close());

    it('a plain request gets the whole page, an htmx request only the fragment; both vary on HX-Request', async () => {
      const full = await admin.get('/admin/newsletters');
      assert.match(full.body, /^<!doctype html>/);
      assert.equal(full.headers.vary, 'HX-Request');
      const fragment = await admin.get('/admin/newsletters', { 'hx-request': 'true' });
      assert.doesNotMatch(fragment.body, /<html/);
      assert.match(fragment.body, /<h1>Newsletters<\/h1>/);
      assert.equal(fragment.headers.vary, 'HX-Request');
    });

    it('boosted navigation and history restores get the whole page', async () => {
      const boosted = await admin.get('/admin/newsletters', { 'hx-request': 'true', 'hx-boosted': 'true' });
      assert.match(boosted.body, /^<!doctype html>/);
      const restore = await admin.get('/admin/newsletters', { 'hx-request': 'true', 'hx-history-restore-request': 'true' });
      assert.match(restore.body, /^<!doctype html>/);
    });

    it('the layout tells htmx to swap validation answers and pins htmx from our own origin', async () => {
      const page = await admin.get('/admin');
      assert.match(page.body, /"code":"\(409\|422\|429\)","swap":true/);
      const src = /<script src="(\/public\/vendor\/htmx-2\.\d+\.\d+\.min\.js)"/.exec(page.body)?.[1];
      assert.ok(src, 'htmx 2.x is served from /public/vendor');
      const js = await t.agent().get(src!);
      assert.equal(js.statusCode, 200);
      assert.match(String(js.headers['cache-control']), /immutable/);
      assert.match(js.body, /htmx/);
    });
  });
}
