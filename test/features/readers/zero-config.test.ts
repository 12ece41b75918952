import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { buildTestApp, setupOwner, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { subscribeViaForm, subscriptionOf } from './helpers.js';

/**
 * The path every newcomer takes first: no SMTP settings, so mail goes to the dev outbox. Each step has a
 * time limit: mail sent inside a transaction made the first sign-up hang the server here.
 */
const LIMIT = { timeout: 15_000 };

function confirmPathIn(raw: string): string {
  // Quoted-printable may wrap the link; undo soft line breaks first.
  const text = raw.replace(/=\r?\n/g, '');
  const match = /http:\/\/gazette\.test(\/confirm\/[A-Za-z0-9_-]+)/.exec(text);
  if (!match) throw new Error(`no confirmation link in the dev outbox message:\n${raw.slice(0, 2000)}`);
  return match[1]!;
}

const variants: Array<{ name: string; dialect: (typeof DIALECTS)[number]; file: boolean }> = [
  { name: 'sqlite file, the default', dialect: 'sqlite', file: true },
  ...DIALECTS.map((dialect) => ({ name: dialect, dialect, file: false })),
];

for (const variant of variants) {
  describe(`zero-config: no SMTP relay, the dev outbox (${variant.name})`, () => {
    let t: TestApp;
    let dir: string | undefined;
    afterEach(async () => {
      await t.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    async function start(): Promise<void> {
      dir = variant.file ? mkdtempSync(path.join(tmpdir(), 'gazette-zero-')) : undefined;
      t = await buildTestApp(variant.dialect, {
        mailer: 'dev-outbox',
        ...(dir ? { sqliteFile: path.join(dir, 'gazette.db') } : {}),
      });
      await setupOwner(t);
    }

    const outbox = () => t.db.db.selectFrom('dev_outbox').selectAll().orderBy('id').execute();

    it('subscribe, confirm from the dev outbox, unsubscribe; the server answers throughout', LIMIT, async () => {
      await start();
      const res = await subscribeViaForm(t, 'newsletter', { email: 'newcomer@example.com', name: 'Nia' });
      assert.equal(res.statusCode, 200);
      assert.match(res.body, /Check your inbox/);

      // The database still answers other requests and the health check says so.
      assert.equal((await t.agent().get('/n/newsletter')).statusCode, 200);
      const health = await t.agent().get('/healthz');
      assert.equal(health.statusCode, 200);
      assert.deepEqual(health.json(), { status: 'ok', db: 'ok' });

      const mails = await outbox();
      assert.equal(mails.length, 1);
      assert.equal(mails[0]!.to_address, 'newcomer@example.com');
      assert.match(mails[0]!.subject, /Confirm your subscription/);
      const queued = await t.db.db.selectFrom('mail_outbox').select(['status', 'kind']).execute();
      assert.deepEqual(queued, [{ status: 'sent', kind: 'confirmation' }]);

      const reader = t.agent();
      const confirmPath = confirmPathIn(mails[0]!.raw);
      assert.match((await reader.get(confirmPath)).body, /Yes, subscribe me/);
      const confirmed = await reader.request('POST', confirmPath, '', { 'content-type': 'application/x-www-form-urlencoded' });
      assert.equal(confirmed.statusCode, 200);
      const sub = await subscriptionOf(t, 'newcomer@example.com');
      assert.equal(sub?.status, 'active');

      const unsubscribed = await reader.request('POST', `/unsubscribe/${sub!.token}`, 'List-Unsubscribe=One-Click', {
        'content-type': 'application/x-www-form-urlencoded',
      });
      assert.equal(unsubscribed.statusCode, 200);
      assert.equal((await subscriptionOf(t, 'newcomer@example.com'))?.status, 'unsubscribed');
    });

    it('single opt-in: a subscribed address signing up again gets a notice, and the server answers', LIMIT, async () => {
      await start();
      await t.db.db.updateTable('newsletters').set({ double_opt_in: 0 }).execute();
      await subscribeViaForm(t, 'newsletter', { email: 'twice@example.com' });
      assert.equal((await subscriptionOf(t, 'twice@example.com'))?.status, 'active');
      assert.equal((await outbox()).length, 0, 'single opt-in sends no confirmation');

      const again = await subscribeViaForm(t, 'newsletter', { email: 'twice@example.com' });
      assert.equal(again.statusCode, 200);
      const mails = await outbox();
      assert.equal(mails.length, 1);
      assert.match(mails[0]!.subject, /already subscribed/);
      assert.equal((await t.agent().get('/healthz')).statusCode, 200);
    });
  });
}
