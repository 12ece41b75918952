import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { buildTestApp, setupOwner, TEST_BASE_URL, type Agent, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { firstNewsletterId, multipartBody, uploadCsv } from './factories.js';

/** A broken or hostile upload is answered on the import form with a 4xx, and starts no import. */
for (const dialect of DIALECTS) {
  describe(`import upload errors (${dialect})`, () => {
    let t: TestApp;
    let agent: Agent;
    let newsletterId: string;
    beforeEach(async () => {
      t = await buildTestApp(dialect);
      agent = await setupOwner(t);
      newsletterId = String(await firstNewsletterId(t.db.db));
    });
    afterEach(() => t.close());

    const imports = async () => (await t.db.db.selectFrom('imports').selectAll().execute()).length;
    const post = (payload: Buffer, contentType: string) =>
      agent.request('POST', `/admin/subscribers/import?_csrf=${encodeURIComponent(agent.csrfToken ?? '')}`, payload, {
        'content-type': contentType,
        origin: TEST_BASE_URL,
        'sec-fetch-site': 'same-origin',
      });
    const csv = { filename: 'list.csv', content: 'email\nreader@example.com\n' };

    it('answers a multipart body without a boundary, cut short, or with the wrong boundary with 400 on the form', async () => {
      const good = multipartBody({ newsletter_id: newsletterId, mode: 'confirmed' }, csv);
      const cases: Array<[string, Buffer, string]> = [
        ['no boundary', good.payload, 'multipart/form-data'],
        ['cut short', good.payload.subarray(0, Math.floor(good.payload.length * 0.6)), good.contentType],
        ['another boundary', good.payload, 'multipart/form-data; boundary=somethingelse'],
        ['empty boundary', Buffer.from('not multipart at all'), 'multipart/form-data; boundary='],
      ];
      for (const [label, payload, contentType] of cases) {
        const res = await post(payload, contentType);
        assert.equal(res.statusCode, 400, label);
        assert.match(res.body, /id="f-file-error">The upload could not be read/, label);
        assert.match(res.body, /<form method="post" action="\/admin\/subscribers\/import/, label);
      }
      assert.equal(await imports(), 0);
    });

    it('refuses control characters in the file name and fields beside the field, and out-of-range newsletter ids', async () => {
      const nulName = await uploadCsv(agent, { newsletter_id: newsletterId, mode: 'confirmed' }, { ...csv, filename: 'list\u0000.csv' });
      assert.equal(nulName.statusCode, 422);
      assert.match(nulName.body, /id="f-file-error">The file name contains control characters/);
      const nulTag = await uploadCsv(agent, { newsletter_id: newsletterId, mode: 'confirmed', tags: 'vip\u0000' }, csv);
      assert.equal(nulTag.statusCode, 422);
      assert.match(nulTag.body, /Remove the control characters/);
      const huge = await uploadCsv(agent, { newsletter_id: '2147483648', mode: 'confirmed' }, csv);
      assert.equal(huge.statusCode, 422);
      assert.match(huge.body, /id="f-newsletter_id-error">Choose a newsletter\./);
      assert.equal(await imports(), 0);

      const fine = await uploadCsv(agent, { newsletter_id: newsletterId, mode: 'confirmed', tags: 'vip' }, csv);
      assert.equal(fine.statusCode, 303);
      await t.app.imports.idle();
      assert.equal(await imports(), 1);
    });
  });
}
